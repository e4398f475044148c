"""The question form under the tree (MANUAL.md §3): answering, validation, locking, history, sharing."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import User
from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from demo.world import DEMO_USER_EMAIL
from evaluation.enums import SelfEvaluationState
from evaluation.forms import AnswerForm
from evaluation.models import IndicatorValue, IndicatorValueHistory, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.conftest import Client
from tests.contracts.factories import MembershipFactory
from tests.evaluation.factories import AttachmentFactory, CampaignFactory, SelfEvaluationFactory


@pytest.fixture
def demo(db):
    call_command("seed_demo", password="Demo-e-CARS-2026!", stdout=io.StringIO())
    User.objects.filter(email=DEMO_USER_EMAIL).update(password_must_change=False)
    return User.objects.get(email=DEMO_USER_EMAIL), SelfEvaluation.objects.get(contract__name="CAQES TEST")


def question_url(self_evaluation, code):
    return reverse("evaluation:question", args=[self_evaluation.public_id, code])


def value_of(self_evaluation, code):
    return IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code=code)


def answer(client, self_evaluation, code, version=None, **fields):
    version = version or value_of(self_evaluation, code).version
    data = {"version": version, "value": "", "not_applicable_reason": "", "comment": "", **fields}
    return client.post(question_url(self_evaluation, code), data)


def test_the_question_shows_under_the_tree_with_the_manuals_fields(client_for, demo):
    user, self_evaluation = demo
    response = client_for(user).get(question_url(self_evaluation, "2.1.1.a"))
    for words in (
        "Pourcentage de remplissage : 0 %",
        "<dt>Etablissement</dt>",
        "380780080 - CHU DE GRENOBLE ALPES",
        "<dt>Objectif</dt>",
        "2.1.1 - Identification d&#x27;une première classe",
        "2.1.1.a - Mise en place d&#x27;un groupe de travail",
        "<dt>Cible</dt>",
        "1 - OUI",
        "0 - NON",
        "Non concerné",
        "Commentaire de l'établissement",
        "Historique de la question",
        "Enregistrer",
    ):
        assertContains(response, words)
    assertContains(response, 'aria-current="page"')


def test_answering_oui_turns_the_dot_green_and_shows_five_percent(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    response = answer(client, self_evaluation, "2.1.1.a", value="1")
    assertRedirects(response, question_url(self_evaluation, "2.1.1.a") + "#question", fetch_redirect_response=False)
    page = client.get(question_url(self_evaluation, "2.1.1.a"))
    assertContains(page, "Réponse enregistrée.")
    assertContains(page, "Pourcentage de remplissage : 5 %")
    assertContains(page, "Pastille verte, saisie :")
    assertContains(page, "objectif atteint")  # target « 1 - OUI »
    value = value_of(self_evaluation, "2.1.1.a")
    assert (value.value, value.version, value.updated_by) == ("1", 2, user)
    history = IndicatorValueHistory.objects.get(indicator_value=value)
    assert history.changes == {"value": ["", "1"]}
    assert AuditEvent.objects.filter(event_type=EventType.VALUE_SAVED, actor=user).exists()
    assertContains(page, "Réalisé « — » → « 1 - OUI »")


def test_a_french_decimal_comma_is_read(client_for, demo):
    user, self_evaluation = demo
    answer(client_for(user), self_evaluation, "1.1.1.a", value="87,5")
    assert value_of(self_evaluation, "1.1.1.a").value == "87.5"
    page = client_for(user).get(question_url(self_evaluation, "1.1.1.a"))
    assertContains(page, 'value="87,5"')
    assertContains(page, "objectif non atteint")  # target 95 %


@pytest.mark.parametrize(
    "code,typed,message",
    [
        ("1.1.1.a", "beaucoup", "Saisissez un taux en chiffres"),
        ("1.1.1.a", "150", "Saisissez un taux entre 0 et 100."),
        ("1.1.1.a", "-3", "Saisissez un taux entre 0 et 100."),
        ("1.1.1.a", "12,345", "Deux décimales au plus."),
        ("1.1.1.a", "1e309", "Saisissez un taux en chiffres"),
        ("1.1.1.a", "NaN", "Saisissez un taux en chiffres"),
        ("3.1.2.a", "douze", "Saisissez un nombre en chiffres"),
        ("3.1.1.b", "31/02/2026", "Saisissez une date au format JJ/MM/AAAA"),
        ("3.1.1.b", "02/03/1850", "Saisissez une date entre 1990 et 2100."),
        ("2.1.1.a", "peut-être", "Choisissez « 1 - OUI » ou « 0 - NON »."),
        ("3.1.3.b", "Niveau 9", "Choisissez une des valeurs proposées."),
        ("3.1.3.c", "x" * 5001, "5000 caractères au plus"),
        ("2.1.1.a", "", "Saisissez le réalisé, ou cochez « Non concerné »"),
    ],
)
def test_bad_values_are_refused_with_a_message_and_the_input_kept(client_for, demo, code, typed, message):
    user, self_evaluation = demo
    response = answer(client_for(user), self_evaluation, code, value=typed, comment="Mon commentaire")
    assert response.status_code == 200
    assertContains(response, message)
    assertContains(response, "Mon commentaire")  # the typed input is kept
    if typed and len(typed) < 50 and code not in ("2.1.1.a", "3.1.3.b"):
        assertContains(response, f'value="{typed}"')
    value = value_of(self_evaluation, code)
    assert (value.value, value.comment, value.version) == ("", "", 1)
    assert not IndicatorValueHistory.objects.exists()


TYPE_CODES = {"taux": "1.1.1.a", "nombre": "3.1.2.a", "date": "3.1.1.b", "oui_non": "2.1.1.a", "liste": "3.1.3.b"}


def invariant_holds(value_type, canonical):
    """What any accepted answer of this type must look like once stored."""
    if value_type in ("taux", "nombre"):
        number = Decimal(canonical)
        upper = 100 if value_type == "taux" else 10**12
        return number.is_finite() and 0 <= number <= upper and number.as_tuple().exponent >= -2
    if value_type == "date":
        return datetime.date(1990, 1, 1) <= datetime.date.fromisoformat(canonical) <= datetime.date(2100, 12, 31)
    if value_type == "oui_non":
        return canonical in ("1", "0")
    return canonical in ("Niveau 1", "Niveau 2", "Niveau 3")


@pytest.mark.parametrize("value_type", sorted(TYPE_CODES))
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    typed=st.one_of(
        st.text(min_size=1, max_size=25),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.dates(min_value=datetime.date(1, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")),
        st.sampled_from(["1", "0", "oui", "12,5", "1e309", "NaN", "-0", "100,001", "Niveau 2"]),
    )
)
def test_generated_values_are_stored_only_when_valid(client_for, demo, value_type, typed):
    """Every input is either refused (and nothing is stored) or stored in a form its type allows."""
    user, self_evaluation = demo
    value = value_of(self_evaluation, TYPE_CODES[value_type])
    form = AnswerForm.for_value(value, data={"version": value.version, "value": typed, "comment": ""})
    if form.is_valid():
        assert invariant_holds(value_type, form.cleaned_data["value"]), (typed, form.cleaned_data["value"])
        return
    response = answer(client_for(user), self_evaluation, TYPE_CODES[value_type], value=typed)
    # A NUL byte is refused before any view runs (ecars.middleware.RejectNulBytesMiddleware).
    assert response.status_code == (400 if "\x00" in typed else 200)
    stored = value_of(self_evaluation, TYPE_CODES[value_type])
    assert (stored.value, stored.version) == ("", 1)


def test_non_concerne_needs_a_justification(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    response = answer(client, self_evaluation, "1.1.1.a", not_applicable="on")
    assertContains(response, "Justifiez « Non concerné »")
    assert not value_of(self_evaluation, "1.1.1.a").not_applicable
    answer(
        client, self_evaluation, "1.1.1.a", not_applicable="on", not_applicable_reason="Pas d'ordonnance de sortie."
    )
    value = value_of(self_evaluation, "1.1.1.a")
    assert value.not_applicable and value.is_filled


def test_two_people_editing_the_same_question_overwrite_nothing(client_for, demo):
    user, self_evaluation = demo
    colleague = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    mine, theirs = client_for(user), client_for(colleague)
    mine.get(question_url(self_evaluation, "2.1.1.b"))
    theirs.get(question_url(self_evaluation, "2.1.1.b"))  # both opened version 1
    answer(theirs, self_evaluation, "2.1.1.b", version=1, value="0", comment="Pas encore")
    response = answer(mine, self_evaluation, "2.1.1.b", version=1, value="1", comment="C'est fait")
    assert response.status_code == 409
    assertContains(response, "Cette question a été modifiée pendant que vous la saisissiez", status_code=409)
    assertContains(response, "Pas encore", status_code=409)
    assertContains(response, "C&#x27;est fait", status_code=409)
    value = value_of(self_evaluation, "2.1.1.b")
    assert (value.value, value.comment, value.version) == ("0", "Pas encore", 2)
    # Deliberately keeping one's own version, from the conflict page.
    response = answer(mine, self_evaluation, "2.1.1.b", version=2, value="1", comment="C'est fait")
    assert response.status_code == 302
    assert value_of(self_evaluation, "2.1.1.b").value == "1"


def toolbar_filter_links(response) -> tuple[bool, bool]:
    """Whether the tree's toolbar offers « Mes questions » and « Toutes les questions »."""
    toolbar = response.content.decode().split('class="ecars-tree-toolbar')[1].split("</ul>")[0]
    return ">Mes questions</a>" in toolbar, ">Toutes les questions</a>" in toolbar


def test_a_version_conflict_keeps_the_navigation_of_the_question_page(client_for, demo):
    """The 409 page shows the tree's toolbar as the question page did before the save (« Mes questions »
    offered), not the « Toutes les questions » of the filtered view: the user's answer must not be mistaken for
    the filter."""
    user, self_evaluation = demo
    colleague = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    mine, theirs = client_for(user), client_for(colleague)
    before = mine.get(question_url(self_evaluation, "2.1.1.b"))
    assert toolbar_filter_links(before) == (True, False)
    answer(theirs, self_evaluation, "2.1.1.b", version=1, value="0")
    response = answer(mine, self_evaluation, "2.1.1.b", version=1, value="1", comment="C'est fait")
    assert response.status_code == 409
    assert toolbar_filter_links(response) == (True, False)


def roles():
    return ["lecteur", "contributeur", "signataire", "agent"]


def user_with(role, self_evaluation):
    if role == "agent":
        return UserFactory(ars_staff=True, region=self_evaluation.contract.ej.region)
    return MembershipFactory(ej=self_evaluation.contract.ej, role=role).user


@pytest.mark.parametrize("role", roles())
@pytest.mark.parametrize(
    "situation,writable",
    [
        ("pre_campagne", False),
        ("open", True),
        ("before_opening", False),
        ("after_deadline", False),
        ("extended", True),
        ("cloturee", False),
        ("definitive", False),
    ],
)
def test_dot_colour_for_each_role_and_state(client_for, role, situation, writable):
    today = timezone.localdate()
    campaign = CampaignFactory()
    self_evaluation = SelfEvaluationFactory(campaign=campaign)
    if situation == "pre_campagne":
        self_evaluation.state = SelfEvaluationState.PRE_CAMPAGNE
    elif situation == "before_opening":
        campaign.self_assessment_start = today + datetime.timedelta(days=1)
        campaign.self_assessment_deadline = today + datetime.timedelta(days=9)
    elif situation in ("after_deadline", "extended"):
        campaign.self_assessment_start = today - datetime.timedelta(days=9)
        campaign.self_assessment_deadline = today - datetime.timedelta(days=1)
        if situation == "extended":
            self_evaluation.extended_until = today + datetime.timedelta(days=5)
    elif situation in ("cloturee", "definitive"):
        self_evaluation.state = situation
        self_evaluation.closed_at = timezone.now()
    campaign.save()
    self_evaluation.save()
    from tests.evaluation.factories import IndicatorValueFactory, NodeFactory

    referential = campaign.referential
    objective = NodeFactory(referential=referential, code="1")
    empty = IndicatorValueFactory(
        self_evaluation=self_evaluation,
        indicator=NodeFactory(referential=referential, parent=objective, code="1.a", oui_non=True),
    )
    filled = IndicatorValueFactory(
        self_evaluation=self_evaluation,
        indicator=NodeFactory(referential=referential, parent=objective, code="1.b", oui_non=True),
        value="1",
    )
    response = client_for(user_with(role, self_evaluation)).get(
        reverse("evaluation:indicators", args=[self_evaluation.public_id])
    )
    content = response.content.decode()
    can_write = writable and role in ("contributeur", "signataire")
    expected = ("rouge", "verte") if can_write else ("grise", "grise")
    for value, dot in zip((empty, filled), expected, strict=True):
        item = content.split(f'id="q-{value.indicator.code.replace(".", "-")}"')[1].split("</li>")[0]
        assert f"ecars-dot--{dot}" in item, (role, situation, value.indicator.code)


def test_writes_outside_ones_rights_are_refused_recorded_and_change_nothing(client_for, demo):
    user, self_evaluation = demo
    reader = MembershipFactory(ej=self_evaluation.contract.ej, lecteur=True).user
    response = answer(client_for(reader), self_evaluation, "2.1.1.a", value="1")
    assert response.status_code == 409
    assertContains(response, "n&#x27;est pas ouverte à votre saisie", status_code=409)
    assert value_of(self_evaluation, "2.1.1.a").value == ""
    assert AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED, actor=reader).exists()
    # A question answered by the Assurance Maladie cannot be written by the establishment.
    response = answer(client_for(user), self_evaluation, "4.1.1.a", value="12")
    assert response.status_code == 409
    assert value_of(self_evaluation, "4.1.1.a").value == ""


def test_a_reader_sees_the_answer_but_no_form(client_for, demo):
    user, self_evaluation = demo
    answer(client_for(user), self_evaluation, "2.1.1.a", value="1", comment="Groupe réuni le 12 mars")
    reader = MembershipFactory(ej=self_evaluation.contract.ej, lecteur=True).user
    response = client_for(reader).get(question_url(self_evaluation, "2.1.1.a"))
    assertContains(response, "Groupe réuni le 12 mars")
    assertNotContains(response, 'id="formulaire-question"')


def test_earlier_years_show_their_target_answer_and_comment(client_for, demo):
    user, self_evaluation = demo
    contract = self_evaluation.contract
    earlier = CampaignFactory(
        contract_type=contract.contract_type,
        referential=self_evaluation.campaign.referential,
        year=self_evaluation.campaign.year - 1,
    )
    previous = SelfEvaluationFactory(
        contract=contract, campaign=earlier, state=SelfEvaluationState.DEFINITIVE, closed_at=timezone.now()
    )
    IndicatorValue.objects.create(
        self_evaluation=previous,
        indicator=value_of(self_evaluation, "2.1.1.a").indicator,
        target="1",
        value="0",
        comment="Groupe prévu pour l'an prochain.",
    )
    response = client_for(user).get(question_url(self_evaluation, "2.1.1.a"))
    assertContains(response, "Années précédentes")
    assertContains(response, f"<div><dt>Année</dt><dd>{earlier.year}</dd></div>", html=True)
    assertContains(response, "<div><dt>Réalisé</dt><dd>0 - NON</dd></div>", html=True)
    assertContains(response, "Groupe prévu pour l&#x27;an prochain.")


def test_a_signataire_confides_a_question_and_its_objective(client_for, demo):
    user, self_evaluation = demo
    colleague = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    membership = colleague.memberships.get()
    client = client_for(user)
    client.post(
        question_url(self_evaluation, "2.1.1.a"), {"assign": "1", "assignee": membership.pk, "scope": "objectif"}
    )
    assigned = set(IndicatorValue.objects.filter(assigned_to=colleague).values_list("indicator__code", flat=True))
    assert assigned == {"2.1.1.a", "2.1.1.b", "2.1.1.c"}
    [message] = [m for m in mail.outbox if m.to == [colleague.email]]
    assert "2.1.1.b - Actions mises en œuvre" in message.body
    mine = client_for(colleague).get(
        reverse("evaluation:indicators", args=[self_evaluation.public_id]), {"mes-questions": "1"}
    )
    assertContains(mine, "2.1.1.a - Mise en place")
    assertNotContains(mine, "1.1.1.a - Taux")
    assert AuditEvent.objects.filter(event_type=EventType.QUESTIONS_ASSIGNED).exists()


def test_a_contributeur_cannot_confide_questions(client_for, demo):
    _, self_evaluation = demo
    colleague = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    client = client_for(colleague)
    assertNotContains(client.get(question_url(self_evaluation, "2.1.1.a")), "Confier la question")
    client.post(
        question_url(self_evaluation, "2.1.1.a"),
        {"assign": "1", "assignee": colleague.memberships.get().pk, "scope": "question"},
    )
    assert not IndicatorValue.objects.filter(assigned_to__isnull=False).exists()


def test_unknown_question_is_404(client_for, demo):
    user, self_evaluation = demo
    assert client_for(user).get(question_url(self_evaluation, "9.9.9.z")).status_code == 404


def test_the_target_rule_is_explained(client_for, demo):
    user, _ = demo
    response = client_for(user).get(reverse("evaluation:help_targets"))
    assertContains(response, "la réponse est au moins égale à la cible")


@pytest.mark.parametrize("size", [1, 10])
def test_the_question_page_runs_the_same_queries_whatever_its_history_and_documents(
    client_for, demo, size, django_assert_num_queries
):
    user, self_evaluation = demo
    value = value_of(self_evaluation, "2.1.1.a")
    other_value = value_of(self_evaluation, "2.1.1.b")
    for version in range(2, size + 2):
        IndicatorValueHistory.objects.create(
            indicator_value=value, version=version, changes={"comment": ["", str(version)]}, changed_by=user
        )
    for _ in range(size):
        # Listed under this question, and offered by « Joindre un document déjà déposé ».
        AttachmentFactory(document__ej=self_evaluation.contract.ej, indicator_value=value, attached_by=user)
        AttachmentFactory(document__ej=self_evaluation.contract.ej, indicator_value=other_value)
    client = client_for(user)
    client.get(question_url(self_evaluation, "2.1.1.a"))
    # The question's documents, whether the year is the current one (« Retirer »), those that may be
    # joined, and the questions these already support.
    # The role in the EJ is asked once, for the abilities that the whole page reads.
    with django_assert_num_queries(13 + 4):
        response = client.get(question_url(self_evaluation, "2.1.1.a"))
    assert response.content.count(b'href="/documents/') == size


def test_a_question_page_of_another_ej_is_404(client, demo, other_member):
    # `demo` first: seed_demo refuses a database holding accounts other than its own.
    _, self_evaluation = demo
    client = Client()
    client.force_login(other_member)
    assert client.get(question_url(self_evaluation, "2.1.1.a")).status_code == 404
