"""« Consolidation »: the bodies' decisions side by side, the ARS's consolidated decision (prefilled when the bodies
agree), the intéressement amount; who may, when, optimistic locking, region scoping, query counts."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from evaluation import consolidation
from evaluation.enums import EvaluatingBody, SelfEvaluationState, Verdict
from evaluation.models import Consolidation, Decision, Report, SelfEvaluation
from evaluation.services import VersionConflict
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


PRIVATE = "MARQUEUR-NOTE-PRIVEE-7f3a"


class World:
    """A self-evaluation « En évaluation » of `ej`: objective 1 with 1.a (ARS), 1.b (ARS and AM), 1.c (ARS and
    OMEDIT) and `extra` more ARS questions; objective 2 with 2.a (AM only). The region's agents of each body."""

    def __init__(self, ej, *, extra: int = 0):
        region = ej.region
        self.ej = ej
        self.ars = UserFactory(ars_staff=True, region=region, first_name="Mourad", last_name="ABED")
        self.am = UserFactory(am_staff=True, region=region)
        self.omedit = UserFactory(omedit_staff=True, region=region)
        self.contract = ContractFactory(ej=ej, name="CAQES TEST", code="PUBLIC")
        today = timezone.localdate()
        self.campaign = CampaignFactory(
            contract_type=self.contract.contract_type,
            regions=[region],
            name="CAQES 2025",
            contradictory_deadline=today + datetime.timedelta(days=30),
        )
        self.self_evaluation = SelfEvaluationFactory(
            contract=self.contract,
            campaign=self.campaign,
            state=SelfEvaluationState.EN_EVALUATION,
            closed_at=timezone.now(),
        )
        referential = self.campaign.referential
        first = NodeFactory(referential=referential, code="1", label="Pertinence des prescriptions")
        second = NodeFactory(referential=referential, code="2", label="Indicateurs nationaux")
        node = {
            "1.a": NodeFactory(referential=referential, parent=first, code="1.a", label="Livret", oui_non=True),
            "1.b": NodeFactory(
                referential=referential, parent=first, code="1.b", label="Taux", taux=True, evaluated_by_am=True
            ),
            "1.c": NodeFactory(
                referential=referential,
                parent=first,
                code="1.c",
                label="Patients",
                nombre=True,
                evaluated_by_omedit=True,
            ),
            "2.a": NodeFactory(
                referential=referential,
                parent=second,
                code="2.a",
                label="PHEV",
                nombre=True,
                evaluated_by_ars=False,
                evaluated_by_am=True,
            ),
        }
        for n in range(extra):
            code = f"1.x{n:03d}"
            node[code] = NodeFactory(
                referential=referential, parent=first, code=code, label=f"Extra {n}", oui_non=True
            )
        answers = {"1.a": "1", "1.b": "85.5", "1.c": "120", "2.a": "42"}
        self.values = {
            code: IndicatorValueFactory(
                self_evaluation=self.self_evaluation,
                indicator=indicator,
                value=answers.get(code, "1"),
                target=indicator.default_target,
            )
            for code, indicator in node.items()
        }

    def decide(self, code, body, verdict, motivation="", private_note=""):
        by = {EvaluatingBody.ARS: self.ars, EvaluatingBody.AM: self.am, EvaluatingBody.OMEDIT: self.omedit}[body]
        return Decision.objects.create(
            value=self.values[code],
            body=body,
            verdict=verdict,
            motivation=motivation,
            private_note=private_note,
            decided_by=by,
            decided_at=timezone.now(),
        )

    def consolidate(self, code, verdict=Verdict.ATTEINT, motivation="", private_note="", *, by=None):
        current = Consolidation.objects.filter(value=self.values[code]).first()
        return consolidation.consolidate(
            self.values[code],
            acting_user=by or self.ars,
            verdict=verdict,
            motivation=motivation,
            private_note=private_note,
            expected_version=current.version if current else 0,
        )

    def consolidate_all(self):
        for code in self.values:
            self.consolidate(code, Verdict.NON_ATTEINT, "Cible non atteinte.", PRIVATE)


@pytest.fixture
def world(ej):
    return World(ej)


def page_url(self_evaluation):
    return reverse("admin:evaluation_evaluation_consolidate", args=[self_evaluation.pk])


def reload(self_evaluation):
    return SelfEvaluation.objects.get(pk=self_evaluation.pk)


# --- The rows -----------------------------------------------------------------------------------------


def test_rows_prefill_when_every_expected_body_agrees(world):
    world.decide("1.b", EvaluatingBody.ARS, Verdict.NON_ATTEINT, "Taux de 85,5 % sous la cible.", "note ARS")
    world.decide("1.b", EvaluatingBody.AM, Verdict.NON_ATTEINT, "Écart confirmé par les données SNDS.")
    rows = {row.node.code: row for row in consolidation.consolidation_rows(world.self_evaluation)}
    assert list(rows) == ["1.a", "1.b", "1.c", "2.a"]  # the tree's order
    row = rows["1.b"]
    assert row.expected == (EvaluatingBody.ARS, EvaluatingBody.AM)
    assert [decision.body for decision in row.decisions] == ["ars", "am"]
    assert row.missing == []
    assert not row.disagreement
    assert row.prefill == Verdict.NON_ATTEINT
    assert row.prefill_motivation == "Taux de 85,5 % sous la cible.\n\nÉcart confirmé par les données SNDS."
    assert PRIVATE not in row.prefill_motivation


def test_rows_flag_a_disagreement_and_the_bodies_awaited(world):
    world.decide("1.b", EvaluatingBody.ARS, Verdict.ATTEINT)
    world.decide("1.b", EvaluatingBody.AM, Verdict.NON_ATTEINT, "Données contraires.")
    world.decide("1.c", EvaluatingBody.ARS, Verdict.ATTEINT)
    rows = {row.node.code: row for row in consolidation.consolidation_rows(world.self_evaluation)}
    assert rows["1.b"].disagreement and rows["1.b"].prefill is None
    assert rows["1.c"].missing == ["OMEDIT"] and rows["1.c"].prefill is None
    assert rows["2.a"].missing == ["Assurance Maladie"] and rows["2.a"].decisions == []


# --- consolidate ------------------------------------------------------------------------------------


def test_the_ars_records_a_consolidated_decision_audited_without_its_private_note(world):
    result = world.consolidate("1.b", Verdict.PARTIELLEMENT_ATTEINT, "Progression à confirmer.", PRIVATE)
    stored = Consolidation.objects.get(value=world.values["1.b"])
    assert (stored.verdict, stored.motivation, stored.private_note, stored.version) == (
        Verdict.PARTIELLEMENT_ATTEINT,
        "Progression à confirmer.",
        PRIVATE,
        1,
    )
    assert result.pk == stored.pk and stored.decided_by == world.ars
    event = AuditEvent.objects.get(event_type=EventType.CONSOLIDATION_RECORDED)
    assert event.actor == world.ars and event.ej == world.ej
    assert event.data["code"] == "1.b" and event.data["to"] == Verdict.PARTIELLEMENT_ATTEINT
    assert PRIVATE not in str(event.data) and PRIVATE not in event.object_repr

    world.consolidate("1.b", Verdict.ATTEINT)
    stored.refresh_from_db()
    assert (stored.verdict, stored.motivation, stored.version) == (Verdict.ATTEINT, "", 2)


@pytest.mark.parametrize("body", ["am", "omedit"])
def test_am_and_omedit_agents_cannot_consolidate(world, body):
    agent = getattr(world, body)
    with pytest.raises(consolidation.ConsolidationRefused, match="Seuls les agents ARS de la région"):
        world.consolidate("1.a", by=agent)
    assert not Consolidation.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.CONSOLIDATION_RECORDED).exists()


def test_an_ars_agent_of_another_region_cannot_consolidate(world, other_region):
    stranger = UserFactory(ars_staff=True, region=other_region)
    with pytest.raises(consolidation.ConsolidationRefused, match="Seuls les agents ARS de la région"):
        world.consolidate("1.a", by=stranger)
    with pytest.raises(consolidation.ConsolidationRefused):
        consolidation.set_incentive_amount(world.self_evaluation, acting_user=stranger, amount=Decimal("10"))
    assert not Consolidation.objects.exists()
    assert reload(world.self_evaluation).incentive_amount is None


@pytest.mark.parametrize("state", [SelfEvaluationState.CLOTUREE, SelfEvaluationState.CONTRADICTOIRE])
def test_consolidation_is_refused_outside_en_evaluation(world, state):
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=state)
    label = SelfEvaluationState(state).label
    with pytest.raises(consolidation.ConsolidationRefused, match=f"état actuel : « {label} »"):
        world.consolidate("1.a")
    assert not Consolidation.objects.exists()


def test_consolidation_is_frozen_once_a_report_was_sent(world):
    Report.objects.create(
        self_evaluation=world.self_evaluation,
        version=1,
        file="reports/x.pdf",
        file_sha256="0" * 64,
        generated_by=world.ars,
        generated_at=timezone.now(),
        sent_at=timezone.now(),
        sent_by=world.ars,
    )
    with pytest.raises(consolidation.ConsolidationRefused, match="ne changent plus que par la réponse"):
        world.consolidate("1.a")
    assert not Consolidation.objects.exists()


def test_a_motivation_is_required_unless_atteint(world):
    with pytest.raises(consolidation.ConsolidationRefused, match="La motivation est obligatoire") as refusal:
        world.consolidate("1.a", Verdict.NON_ATTEINT, "   ")
    assert refusal.value.field == "motivation"
    assert not Consolidation.objects.exists()


def test_concurrent_consolidations_do_not_overwrite_each_other(world):
    colleague = UserFactory(ars_staff=True, region=world.ej.region)
    value = world.values["1.a"]
    consolidation.consolidate(
        value, acting_user=world.ars, verdict=Verdict.ATTEINT, motivation="", private_note="", expected_version=0
    )
    with pytest.raises(VersionConflict) as conflict:
        consolidation.consolidate(
            value,
            acting_user=colleague,
            verdict=Verdict.NON_ATTEINT,
            motivation="Autre avis.",
            private_note="",
            expected_version=0,
        )
    assert conflict.value.current.decided_by == world.ars
    stored = Consolidation.objects.get(value=value)
    assert (stored.verdict, stored.version, stored.decided_by) == (Verdict.ATTEINT, 1, world.ars)


# --- The intéressement --------------------------------------------------------------------------------


def test_the_incentive_amount_is_stored_and_audited_with_old_and_new(world):
    consolidation.set_incentive_amount(world.self_evaluation, acting_user=world.ars, amount=Decimal("12345.5"))
    consolidation.set_incentive_amount(world.self_evaluation, acting_user=world.ars, amount=Decimal("100"))
    assert reload(world.self_evaluation).incentive_amount == Decimal("100.00")
    events = AuditEvent.objects.filter(event_type=EventType.INCENTIVE_SET).order_by("pk")
    assert [event.data for event in events] == [
        {"old": None, "new": "12345.50"},
        {"old": "12345.50", "new": "100.00"},
    ]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("-1"), "ne peut pas être négatif"),
        (Decimal("1.234"), "Deux décimales au plus"),
    ],
)
def test_the_service_refuses_a_bad_amount(world, amount, message):
    with pytest.raises(consolidation.ConsolidationRefused, match=message):
        consolidation.set_incentive_amount(world.self_evaluation, acting_user=world.ars, amount=amount)
    assert reload(world.self_evaluation).incentive_amount is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-5", "Le montant de l&#x27;intéressement ne peut pas être négatif."),
        ("douze mille", "Saisissez le montant en chiffres"),
        ("12,345", "Deux décimales au plus."),
    ],
)
def test_the_incentive_form_shows_a_clear_error_tied_to_the_field_and_stores_nothing(
    client_for, world, typed, message
):
    url = reverse("admin:evaluation_evaluation_incentive", args=[world.self_evaluation.pk])
    response = client_for(world.ars).post(url, {"amount": typed})
    assertContains(response, message, status_code=400)
    assertContains(response, 'aria-describedby="id_amount_error id_amount_helptext"', status_code=400)
    assertContains(
        response, '<label for="id_amount">Montant de l&#x27;intéressement (€)\xa0:</label>', status_code=400
    )
    assert reload(world.self_evaluation).incentive_amount is None
    assert not AuditEvent.objects.filter(event_type=EventType.INCENTIVE_SET).exists()


def test_the_incentive_form_stores_a_french_amount(client_for, world):
    url = reverse("admin:evaluation_evaluation_incentive", args=[world.self_evaluation.pk])
    response = client_for(world.ars).post(url, {"amount": "12 345,5"}, follow=True)
    assertContains(response, "Montant de l&#x27;intéressement enregistré : 12\xa0345,50\xa0€.")
    assert reload(world.self_evaluation).incentive_amount == Decimal("12345.50")


# --- The page -------------------------------------------------------------------------------------------


def test_the_page_shows_every_decision_the_disagreements_and_the_prefilled_form(client_for, world):
    world.decide("1.a", EvaluatingBody.ARS, Verdict.PARTIELLEMENT_ATTEINT, "Livret incomplet.", PRIVATE)
    world.decide("1.b", EvaluatingBody.ARS, Verdict.ATTEINT)
    world.decide("1.b", EvaluatingBody.AM, Verdict.NON_ATTEINT, "Données contraires.")
    world.decide("1.c", EvaluatingBody.ARS, Verdict.ATTEINT)
    response = client_for(world.ars).get(page_url(world.self_evaluation))
    assert response.status_code == 200
    assertContains(response, "<h1>Consolidation — CAQES TEST</h1>", html=True)
    assertContains(response, "Désaccord entre les instances", count=1)
    assertContains(response, "En attente de : OMEDIT")
    assertContains(response, "En attente de : Assurance Maladie")
    assertContains(response, PRIVATE)  # staff only: the note is the agencies' own
    assertContains(response, "Livret incomplet.")
    value = world.values["1.a"]
    prefix = f"id_q{value.pk}"
    # 1.a has a single body (the ARS), which decided: its decision and motivation prefill the form.
    assertContains(response, '<option value="partiellement_atteint" selected>Partiellement atteint</option>')
    labels = {
        "verdict": "Décision consolidée",
        "motivation": "Motivation (visible par l&#x27;établissement)",
        "private_note": "Note interne (jamais visible par l&#x27;établissement)",
    }
    for name, label in labels.items():
        assertContains(response, f'<label for="{prefix}-{name}">{label}\xa0:</label>')
    assertContains(response, 'value="Enregistrer la décision consolidée"', count=4)
    assertContains(response, "Montant de l&#x27;intéressement (€)")
    assertContains(response, 'value="Enregistrer le montant"')
    # Not every question is consolidated: no report yet.
    assertNotContains(response, 'value="Générer le rapport"')
    assertNotContains(response, 'value="Envoyer le rapport"')
    assertContains(response, "4 questions sans décision consolidée")


def test_the_page_form_records_the_decision(client_for, world):
    value = world.values["1.b"]
    response = client_for(world.ars).post(
        page_url(world.self_evaluation),
        {
            "value": value.pk,
            f"q{value.pk}-verdict": Verdict.NON_ATTEINT,
            f"q{value.pk}-motivation": "Cible non atteinte.",
            f"q{value.pk}-private_note": PRIVATE,
            f"q{value.pk}-version": 0,
        },
        follow=True,
    )
    assertContains(response, "1.b : décision consolidée enregistrée.")
    assert Consolidation.objects.get(value=value).verdict == Verdict.NON_ATTEINT


def test_the_page_form_ties_a_missing_motivation_to_its_field_and_stores_nothing(client_for, world):
    value = world.values["1.b"]
    response = client_for(world.ars).post(
        page_url(world.self_evaluation),
        {"value": value.pk, f"q{value.pk}-verdict": Verdict.NON_ATTEINT, f"q{value.pk}-version": 0},
    )
    assertContains(response, "La motivation est obligatoire, sauf pour « Atteint ».", status_code=400)
    field_id = f"id_q{value.pk}-motivation"
    assertContains(response, f'aria-describedby="{field_id}_error {field_id}_helptext"', status_code=400)
    assertContains(response, f'<ul class="errorlist" id="{field_id}_error">', status_code=400)
    assert not Consolidation.objects.exists()


def test_the_page_reports_a_conflict_and_keeps_the_first_decision(client_for, world):
    world.consolidate("1.a", Verdict.ATTEINT)
    value = world.values["1.a"]
    response = client_for(world.ars).post(
        page_url(world.self_evaluation),
        {
            "value": value.pk,
            f"q{value.pk}-verdict": Verdict.NON_ATTEINT,
            f"q{value.pk}-motivation": "Autre avis.",
            f"q{value.pk}-version": 0,
        },
        follow=True,
    )
    assertContains(response, "1.a : la décision consolidée a été enregistrée entre-temps par Mourad ABED.")
    assert Consolidation.objects.get(value=value).verdict == Verdict.ATTEINT


@pytest.mark.parametrize("body", ["am", "omedit"])
def test_am_and_omedit_agents_read_the_page_without_its_forms(client_for, world, body):
    client = client_for(getattr(world, body))
    response = client.get(page_url(world.self_evaluation))
    assert response.status_code == 200
    assertNotContains(response, "Enregistrer la décision consolidée")
    assertNotContains(response, "Enregistrer le montant")
    value = world.values["1.a"]
    response = client.post(
        page_url(world.self_evaluation),
        {"value": value.pk, f"q{value.pk}-verdict": Verdict.ATTEINT, f"q{value.pk}-version": 0},
        follow=True,
    )
    assertContains(response, "Seuls les agents ARS de la région")
    assert not Consolidation.objects.exists()


def test_agents_of_another_region_get_404_on_every_consolidation_url(client_for, world, other_region):
    self_evaluation = world.self_evaluation
    report = Report.objects.create(
        self_evaluation=self_evaluation,
        version=1,
        file="reports/x.pdf",
        file_sha256="0" * 64,
        generated_by=world.ars,
        generated_at=timezone.now(),
    )
    for kind in ("ars_staff", "am_staff", "omedit_staff"):
        client = client_for(UserFactory(**{kind: True}, region=other_region))
        assert client.get(page_url(self_evaluation)).status_code == 404
        for name in ("incentive", "generate_report", "send_report", "send_final_report"):
            url = reverse(f"admin:evaluation_evaluation_{name}", args=[self_evaluation.pk])
            assert client.post(url, {"amount": "1"}).status_code == 404
        url = reverse("admin:evaluation_evaluation_report_download", args=[self_evaluation.pk, report.pk])
        assert client.get(url).status_code == 404
    assert reload(self_evaluation).incentive_amount is None
    assert Report.objects.count() == 1


def test_establishment_users_never_reach_the_page(client_for, world):
    member = MembershipFactory(ej=world.ej, role=MembershipRole.SIGNATAIRE).user
    response = client_for(member).get(page_url(world.self_evaluation))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def _page_queries(client_for, ej, extra):
    world = World(ej, extra=extra)
    for code in world.values:
        world.decide(code, EvaluatingBody.ARS if code != "2.a" else EvaluatingBody.AM, Verdict.ATTEINT)
    client = client_for(world.ars)
    client.get(page_url(world.self_evaluation))  # warm up (session, content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(world.self_evaluation))
    assert response.status_code == 200
    assertContains(response, 'value="Enregistrer la décision consolidée"', count=4 + extra)
    return len(queries)


def test_the_page_costs_the_same_queries_for_3_or_30_questions(client_for, region):
    from tests.contracts.factories import EntiteJuridiqueFactory

    small = _page_queries(client_for, EntiteJuridiqueFactory(region=region), 0)
    large = _page_queries(client_for, EntiteJuridiqueFactory(region=region), 26)
    assert small == large
