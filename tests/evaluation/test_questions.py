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
from evaluation.display import value_type_shown
from evaluation.enums import AnswerLevel, SelfEvaluationState, ValueType
from evaluation.forms import AnswerForm
from evaluation.models import Attachment, IndicatorValue, IndicatorValueHistory, Node, SelfEvaluation
from evaluation.services import create_self_evaluation, transition
from tests.accounts.factories import UserFactory
from tests.conftest import Client
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.evaluation.factories import (
    AttachmentFactory,
    CampaignFactory,
    IndicatorValueFactory,
    NodeFactory,
    SelfEvaluationFactory,
)


@pytest.fixture
def demo(db):
    call_command("seed_demo", password="Demo-e-CARS-2026!", stdout=io.StringIO())
    User.objects.filter(email=DEMO_USER_EMAIL).update(password_must_change=False)
    return User.objects.get(email=DEMO_USER_EMAIL), SelfEvaluation.objects.filter(
        contract__name="CAQES TEST"
    ).latest_first().first()


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
        f"Commentaire évalué {self_evaluation.campaign.year}",
        "Commentaire évalué N-1",
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


def test_a_save_reads_its_rows_once_locked(client_for, demo, django_assert_num_queries):
    """The question's POST reads the self-evaluation (with the user's role) and the answer locked, and the
    service writes on them without reading them again: session, user, savepoint, the self-evaluation, the
    answer, the update, the history, the audit event, release."""
    user, self_evaluation = demo
    client = client_for(user)
    client.get(question_url(self_evaluation, "2.1.1.a"))  # the referential's nodes are then in this process
    data = {"version": 1, "value": "1", "not_applicable_reason": "", "comment": ""}
    with django_assert_num_queries(9) as captured:
        response = client.post(question_url(self_evaluation, "2.1.1.a"), data)
    assert response.status_code == 302
    locks = [query["sql"] for query in captured.captured_queries if "FOR UPDATE" in query["sql"]]
    assert len(locks) == 2
    assert 'FROM "evaluation_selfevaluation"' in locks[0] and 'FROM "evaluation_indicatorvalue"' in locks[1]
    assert value_of(self_evaluation, "2.1.1.a").version == 2


def test_the_history_shows_the_latest_changes_and_links_to_all_of_them(client_for, demo):
    user, self_evaluation = demo
    value = value_of(self_evaluation, "2.1.1.a")
    for version in range(2, 27):
        IndicatorValueHistory.objects.create(
            indicator_value=value, version=version, changes={"comment": ["", f"note {version}"]}, changed_by=user
        )
    client = client_for(user)
    page = client.get(question_url(self_evaluation, "2.1.1.a"))
    assertContains(page, "Les 20 dernières modifications sur 25.")
    assertContains(page, "« note 26 »")
    assertContains(page, "« note 7 »")
    assertNotContains(page, "« note 6 »")
    everything = client.get(page.context["request"].path + "?historique=tout")
    assertContains(everything, "« note 2 »")
    assertNotContains(everything, "dernières modifications sur")


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
    assert not IndicatorValueHistory.objects.filter(indicator_value__self_evaluation=self_evaluation).exists()


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


def page_text(response) -> str:
    """The page's HTML with its whitespace collapsed, for checks that span lines of the template."""
    return " ".join(response.content.decode().split())


def previous_comment_shown(response) -> str:
    """What the page shows as « Commentaire évalué N-1 »."""
    return page_text(response).split("<dt>Commentaire évalué N-1</dt><dd>")[1].split("</dd>")[0]


def earlier_self_evaluation(self_evaluation):
    """The demo's earlier year of CAQES TEST (seed_demo: answered in part, « Définitive »)."""
    return SelfEvaluation.objects.get(
        contract=self_evaluation.contract, campaign__year=self_evaluation.campaign.year - 1
    )


def test_the_comment_is_that_of_the_evaluated_year_with_last_years_under_it(client_for, demo):
    """MANUAL.md §3: « Commentaire évalué 2022 », and « Commentaire évalué N1 » under it."""
    user, self_evaluation = demo
    year = self_evaluation.campaign.year
    earlier = earlier_self_evaluation(self_evaluation)
    last_years = value_of(earlier, "2.1.1.a").comment
    assert last_years.startswith("Groupe de travail sur les anticoagulants oraux")
    response = client_for(user).get(question_url(self_evaluation, "2.1.1.a"))
    text = page_text(response)
    assert (
        f'<label class="fr-label" for="id_comment">Commentaire évalué {year} <span class="fr-hint-text">'
        f"Le commentaire de votre établissement sur l&#x27;année évaluée, {year}.</span></label>"
    ) in text
    # Read-only, under this year's field, inside the form.
    form = text.split('id="formulaire-question"')[1].split("</form>")[0]
    assert form.index('id="id_comment"') < form.index("<dt>Commentaire évalué N-1</dt>")
    assert previous_comment_shown(response) == last_years.replace("'", "&#x27;")
    assert 'name="previous_comment"' not in text

    # No comment the year before: « — ».
    assert value_of(earlier, "2.1.1.c").comment == ""
    assert previous_comment_shown(client_for(user).get(question_url(self_evaluation, "2.1.1.c"))) == "—"


def test_last_years_comment_is_the_previous_campaigns_only(client_for, demo):
    """N-1 is the contract's campaign just before, not the latest earlier year that asked the question."""
    user, self_evaluation = demo
    contract = self_evaluation.contract
    older = CampaignFactory(
        contract_type=contract.contract_type,
        referential=self_evaluation.campaign.referential,
        year=self_evaluation.campaign.year - 2,
    )
    oldest = SelfEvaluationFactory(
        contract=contract, campaign=older, state=SelfEvaluationState.DEFINITIVE, closed_at=timezone.now()
    )
    for code, comment in (("2.1.1.a", "Premier groupe de travail."), ("2.1.1.c", "Suivi à organiser.")):
        IndicatorValue.objects.create(
            self_evaluation=oldest, indicator=value_of(self_evaluation, code).indicator, value="0", comment=comment
        )
    client = client_for(user)
    response = client.get(question_url(self_evaluation, "2.1.1.c"))
    assertContains(response, "Suivi à organiser.")  # among « Années précédentes »
    assert previous_comment_shown(response) == "—"  # the year before did not comment
    response = client.get(question_url(self_evaluation, "2.1.1.a"))
    assert previous_comment_shown(response).startswith("Groupe de travail sur les anticoagulants oraux")
    years = page_text(response).split("Années précédentes")[1]
    assert years.index(f"<dd>{older.year + 1}</dd>") < years.index(f"<dd>{older.year}</dd>")  # newest first


def test_without_an_earlier_campaign_last_years_comment_is_a_dash(client_for):
    self_evaluation = SelfEvaluationFactory()
    question = NodeFactory(referential=self_evaluation.campaign.referential, code="1.a", oui_non=True)
    IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question, comment="Cette année")
    signataire = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.SIGNATAIRE).user
    response = client_for(signataire).get(question_url(self_evaluation, "1.a"))
    assertContains(response, f"Commentaire évalué {self_evaluation.campaign.year}")
    assert previous_comment_shown(response) == "—"
    assertNotContains(response, "Années précédentes")


def test_a_reader_reads_both_comments_under_the_manuals_labels(client_for, demo):
    user, self_evaluation = demo
    answer(client_for(user), self_evaluation, "2.1.1.a", value="1", comment="Groupe réuni le 12 mars")
    reader = MembershipFactory(ej=self_evaluation.contract.ej, lecteur=True).user
    response = client_for(reader).get(question_url(self_evaluation, "2.1.1.a"))
    year = self_evaluation.campaign.year
    assertContains(
        response, f"<div><dt>Commentaire évalué {year}</dt><dd>Groupe réuni le 12 mars</dd></div>", html=True
    )
    assert previous_comment_shown(response).startswith("Groupe de travail sur les anticoagulants oraux")


def test_the_history_names_the_comment_as_the_field_does(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    answer(client, self_evaluation, "2.1.1.b", value="1", comment="Plan suivi en COMEDIMS")
    page = client.get(question_url(self_evaluation, "2.1.1.b"))
    year = self_evaluation.campaign.year
    assertContains(page, f"Commentaire évalué {year} « — » → « Plan suivi en COMEDIMS »")
    assertNotContains(page, "Commentaire « ")


def test_the_conflict_page_names_the_comment_as_the_field_does(client_for, demo):
    user, self_evaluation = demo
    colleague = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    answer(client_for(colleague), self_evaluation, "2.1.1.b", version=1, value="0", comment="Pas encore")
    response = answer(client_for(user), self_evaluation, "2.1.1.b", version=1, value="1", comment="C'est fait")
    year = self_evaluation.campaign.year
    assertContains(
        response, f"<div><dt>Commentaire évalué {year}</dt><dd>Pas encore</dd></div>", html=True, status_code=409
    )


def test_earlier_years_show_their_target_answer_comment_and_documents(client_for, demo):
    """The demo's earlier year under « Années précédentes »: its answer, its comment under its year's label, and
    its documents, to download, never to withdraw."""
    user, self_evaluation = demo
    earlier = earlier_self_evaluation(self_evaluation)
    response = client_for(user).get(question_url(self_evaluation, "2.1.1.a"))
    assertContains(response, "Années précédentes")
    assertContains(response, f"<div><dt>Année</dt><dd>{earlier.campaign.year}</dd></div>", html=True)
    assertContains(response, "<div><dt>Réalisé</dt><dd>1 - OUI</dd></div>", html=True)
    assertContains(response, f"<dt>Commentaire évalué {earlier.campaign.year}</dt>")
    attachments = Attachment.objects.filter(
        indicator_value__self_evaluation=earlier, indicator_value__indicator__code="2.1.1.a"
    )
    names = [a.document.original_name for a in attachments.order_by("attached_at", "pk")]
    assert names == [
        f"Compte rendu du groupe de travail {earlier.campaign.year}.pdf",
        f"Plan d'actions anticoagulants {earlier.campaign.year}.pdf",
    ]
    years = page_text(response).split("Années précédentes")[1]
    for attachment in attachments:
        download = reverse("documents:download", args=[attachment.document.public_id])
        assert f'href="{download}"' in years
        assert str(attachment.document.public_id) not in years.split(download)[1]  # no « Retirer » form
    # They stay out of this year's list, whose « Retirer » is for this year's documents only.
    documents_block = page_text(response).split('id="documents"')[1].split("</section>")[0]
    assert "Aucun document pour cette question." in documents_block


@pytest.mark.parametrize(
    "code,shown",
    [
        ("1.1.1.a", "taux (%)"),
        ("3.1.2.b", "taux (%)"),
        ("3.1.2.a", "nombre (patients)"),
        ("2.1.1.a", "oui/non"),
        ("3.1.1.b", "date"),
        ("3.1.3.b", "liste de choix"),
        ("3.1.3.c", "texte"),
    ],
)
def test_the_type_line_says_the_unit_once(client_for, demo, code, shown):
    user, self_evaluation = demo
    response = client_for(user).get(question_url(self_evaluation, code))
    line = page_text(response).split("Type de réponse : ")[1].split(" · ")[0]
    assert line == shown


@pytest.mark.parametrize(
    "value_type,unit,shown",
    [
        ("taux", "%", "taux (%)"),
        ("taux", "", "taux (%)"),
        ("taux", "% des lits", "taux (% des lits)"),
        ("nombre", "patients", "nombre (patients)"),
        ("nombre", "", "nombre"),
        ("oui_non", "", "oui/non"),
        ("date", "", "date"),
        ("texte", "", "texte"),
        ("liste", "", "liste de choix"),
        ("liste", " niveaux ", "liste de choix (niveaux)"),
    ],
)
def test_each_value_type_shows_its_unit_once(value_type, unit, shown):
    assert value_type_shown(Node(value_type=value_type, unit=unit)) == shown


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
    # The user's role in the EJ comes with the self-evaluation, for the abilities that the whole page reads;
    # the referential's nodes are read once per process (evaluation.tree.referential_nodes).
    # The earlier years of the question (the demo's 2024, with its « Commentaire évalué N-1 ») and their
    # documents: two queries, whatever their number. The colleagues of « Confier à »: one query, not counted first.
    with django_assert_num_queries(10 + 5):
        response = client.get(question_url(self_evaluation, "2.1.1.a"))
    # This year's documents, and the two of the demo's earlier year under « Années précédentes ».
    assert response.content.count(b'href="/documents/') == size + 2


def test_a_question_page_of_another_ej_is_404(client, demo, other_member):
    # `demo` first: seed_demo refuses a database holding accounts other than its own.
    _, self_evaluation = demo
    client = Client()
    client.force_login(other_member)
    assert client.get(question_url(self_evaluation, "2.1.1.a")).status_code == 404


@pytest.fixture
def et_questions(db):
    """A contract of two ET (and an ET of another EJ) whose question 1.1 is answered per ET, open for writing."""
    membership = MembershipFactory(role=MembershipRole.SIGNATAIRE)
    sites = EtablissementFactory.create_batch(2, ej=membership.ej)
    contract = ContractFactory(ej=membership.ej)
    contract.etablissements.set(sites)
    campaign = CampaignFactory(contract_type=contract.contract_type)
    objective = NodeFactory(referential=campaign.referential, code="1", position=1)
    NodeFactory(
        referential=campaign.referential,
        parent=objective,
        code="1.1",
        position=2,
        value_type=ValueType.NOMBRE,
        answer_level=AnswerLevel.ET,
    )
    self_evaluation = create_self_evaluation(contract=contract, campaign=campaign)
    transition(self_evaluation, to_state="auto_evaluation", acting_user=None)
    return membership.user, self_evaluation, sites, EtablissementFactory()


def test_a_question_answered_per_et_saves_the_answer_of_the_et_in_the_address(client_for, et_questions):
    user, self_evaluation, (site_a, site_b), _ = et_questions
    values = IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code="1.1")
    url = f"{question_url(self_evaluation, '1.1')}?et={site_b.finess}"
    version = values.get(etablissement=site_b).version
    response = client_for(user).post(url, {"version": version, "value": "12", "comment": ""})
    assertRedirects(response, f"{url}#question", fetch_redirect_response=False)
    assert values.get(etablissement=site_b).value == "12"
    assert values.get(etablissement=site_a).value == ""
    assert IndicatorValueHistory.objects.get().indicator_value == values.get(etablissement=site_b)


def test_a_question_per_et_of_another_ej_or_without_its_et_is_not_found_and_nothing_is_saved(client_for, et_questions):
    user, self_evaluation, _, foreign_site = et_questions
    client = client_for(user)
    for url in (
        f"{question_url(self_evaluation, '1.1')}?et={foreign_site.finess}",
        f"{question_url(self_evaluation, '1.1')}?et=000000000",
        question_url(self_evaluation, "1.1"),  # an ET-level question has no EJ-level answer
    ):
        assert client.post(url, {"version": 1, "value": "12", "comment": ""}).status_code == 404
    assert not IndicatorValueHistory.objects.exists()
    assert not IndicatorValue.objects.filter(self_evaluation=self_evaluation).exclude(value="").exists()
