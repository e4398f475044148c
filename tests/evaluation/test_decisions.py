"""Each body's decisions (evaluation.decisions): who decides which question, when, the motivation, the first
decision's move to « En évaluation », optimistic locking, the answers of the bodies that fill a question."""

import pytest

from audit.enums import EventType
from audit.models import AuditEvent
from evaluation import decisions
from evaluation.enums import EvaluatingBody, FilledBy, SelfEvaluationState, Verdict
from evaluation.models import Decision, IndicatorValueHistory, SelfEvaluation, Transition
from evaluation.services import VersionConflict
from tests.accounts.factories import UserFactory
from tests.evaluation.factories import IndicatorValueFactory, NodeFactory
from tests.evaluation.test_consolidation import PRIVATE, World


@pytest.fixture
def world(ej):
    """The consolidation's world, just closed: nobody decided yet."""
    world = World(ej)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.CLOTUREE)
    world.self_evaluation.refresh_from_db()
    return world


def decide(world, code, user, verdict=Verdict.ATTEINT, motivation="", private_note="", version=0):
    return decisions.record_decision(
        world.values[code],
        acting_user=user,
        verdict=verdict,
        motivation=motivation,
        private_note=private_note,
        expected_version=version,
    )


def state_of(world):
    return SelfEvaluation.objects.get(pk=world.self_evaluation.pk).state


def test_the_first_decision_moves_to_en_evaluation_with_its_transition_and_audit(world):
    decision = decide(world, "1.a", world.ars, Verdict.NON_ATTEINT, "Livret absent.", PRIVATE)
    assert (decision.body, decision.verdict, decision.version) == (EvaluatingBody.ARS, Verdict.NON_ATTEINT, 1)
    assert decision.decided_by == world.ars
    assert state_of(world) == SelfEvaluationState.EN_EVALUATION
    transition = Transition.objects.get(self_evaluation=world.self_evaluation)
    assert (transition.from_state, transition.to_state, transition.user) == (
        SelfEvaluationState.CLOTUREE,
        SelfEvaluationState.EN_EVALUATION,
        world.ars,
    )
    event = AuditEvent.objects.get(event_type=EventType.DECISION_RECORDED)
    assert event.data == {"code": "1.a", "body": "ars", "verdict": "non_atteint", "version": 1}
    assert event.actor == world.ars
    # The private note is the agencies' own: never in the audit trail.
    assert not AuditEvent.objects.filter(data__icontains=PRIVATE).exists()
    assert PRIVATE not in str(list(AuditEvent.objects.values_list("data", flat=True)))


def test_a_second_decision_moves_nothing_and_each_body_decides_its_own(world):
    decide(world, "1.b", world.ars, Verdict.ATTEINT)
    decide(world, "1.b", world.am, Verdict.PARTIELLEMENT_ATTEINT, "Taux proche de la cible.")
    decide(world, "1.c", world.omedit, Verdict.NON_EVALUABLE, "Pas de données.")
    assert Transition.objects.filter(self_evaluation=world.self_evaluation).count() == 1
    assert sorted(Decision.objects.values_list("value__indicator__code", "body")) == [
        ("1.b", "am"),
        ("1.b", "ars"),
        ("1.c", "omedit"),
    ]


@pytest.mark.parametrize(
    ("code", "body"),
    [
        ("1.a", "am"),  # ARS only
        ("1.a", "omedit"),
        ("2.a", "ars"),  # AM only
        ("1.b", "omedit"),  # ARS and AM
    ],
)
def test_a_body_cannot_decide_a_question_it_does_not_evaluate(world, code, body):
    user = {"ars": world.ars, "am": world.am, "omedit": world.omedit}[body]
    with pytest.raises(decisions.DecisionRefused, match="n'est pas évaluée par l'instance"):
        decide(world, code, user)
    assert not Decision.objects.exists()
    assert state_of(world) == SelfEvaluationState.CLOTUREE


def test_agents_of_another_region_and_establishment_members_cannot_decide(world, other_region, member):
    foreigner = UserFactory(ars_staff=True, region=other_region)
    for user in (foreigner, member, UserFactory(am_staff=True, region=other_region)):
        with pytest.raises(decisions.DecisionRefused):
            decide(world, "1.a", user)
    assert not Decision.objects.exists()


def test_national_administrators_consolidate_but_do_not_decide_for_a_body(world):
    with pytest.raises(decisions.DecisionRefused, match="Seuls les agents de l'ARS, de l'Assurance Maladie"):
        decide(world, "1.a", UserFactory(national_admin=True))
    assert not Decision.objects.exists()
    assert state_of(world) == SelfEvaluationState.CLOTUREE


def test_a_refused_decision_writes_nothing_at_all(world):
    """Neither the decision, nor the move to « En évaluation », nor its transition, nor an audit event."""
    events = AuditEvent.objects.count()
    for verdict, motivation in ((Verdict.NON_ATTEINT, ""), ("excellent", "Très bien.")):
        with pytest.raises(decisions.DecisionRefused):
            decide(world, "1.a", world.ars, verdict, motivation, PRIVATE)
    with pytest.raises(decisions.DecisionRefused):
        decide(world, "2.a", world.ars, Verdict.ATTEINT)
    assert not Decision.objects.exists()
    assert not Transition.objects.exists()
    assert AuditEvent.objects.count() == events
    assert state_of(world) == SelfEvaluationState.CLOTUREE


def test_the_motivation_and_the_note_are_stored_stripped_and_the_note_never_audited(world):
    decision = decide(world, "1.c", world.omedit, Verdict.NON_ATTEINT, "  Sous la cible.  ", f"  {PRIVATE}  ")
    assert (decision.motivation, decision.private_note) == ("Sous la cible.", PRIVATE)
    decide(world, "1.c", world.omedit, Verdict.PARTIELLEMENT_ATTEINT, "Revu.", f"{PRIVATE} bis", version=1)
    events = AuditEvent.objects.filter(event_type=EventType.DECISION_RECORDED).order_by("pk")
    assert [e.data["verdict"] for e in events] == ["non_atteint", "partiellement_atteint"]
    assert [e.data["body"] for e in events] == ["omedit", "omedit"]
    assert PRIVATE not in str(list(AuditEvent.objects.values_list("data", flat=True)))


@pytest.mark.parametrize(
    "state",
    [
        SelfEvaluationState.AUTO_EVALUATION,
        SelfEvaluationState.RAPPORT_ENVOYE,
        SelfEvaluationState.CONTRADICTOIRE,
        SelfEvaluationState.DEFINITIVE,
    ],
)
def test_decisions_are_refused_before_the_closure_and_frozen_once_the_report_is_sent(world, state):
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=state)
    with pytest.raises(decisions.DecisionRefused, match="Aucune décision ne peut être enregistrée"):
        decide(world, "1.a", world.ars, Verdict.NON_ATTEINT, "Livret absent.")
    assert not Decision.objects.exists()


@pytest.mark.parametrize("verdict", [Verdict.PARTIELLEMENT_ATTEINT, Verdict.NON_ATTEINT, Verdict.NON_EVALUABLE])
def test_a_motivation_is_required_unless_atteint(world, verdict):
    with pytest.raises(decisions.DecisionRefused, match="La motivation est obligatoire") as refusal:
        decide(world, "1.a", world.ars, verdict, "   ")
    assert refusal.value.field == "motivation"
    assert not Decision.objects.exists()
    decide(world, "1.a", world.ars, Verdict.ATTEINT, "")
    assert Decision.objects.get().verdict == Verdict.ATTEINT


def test_an_unknown_verdict_is_refused(world):
    with pytest.raises(decisions.DecisionRefused, match="Choisissez une décision"):
        decide(world, "1.a", world.ars, "excellent", "Très bien.")
    assert not Decision.objects.exists()


def test_concurrent_decisions_do_not_overwrite_each_other(world):
    colleague = UserFactory(ars_staff=True, region=world.ej.region)
    decide(world, "1.a", world.ars, Verdict.ATTEINT)  # both opened the form at version 0
    with pytest.raises(VersionConflict) as conflict:
        decide(world, "1.a", colleague, Verdict.NON_ATTEINT, "Livret absent.", version=0)
    assert conflict.value.current.decided_by == world.ars
    stored = Decision.objects.get()
    assert (stored.verdict, stored.version, stored.decided_by) == (Verdict.ATTEINT, 1, world.ars)
    # Seen, then changed: version 1 → 2.
    decide(world, "1.a", colleague, Verdict.NON_ATTEINT, "Livret absent.", version=1)
    stored.refresh_from_db()
    assert (stored.verdict, stored.version, stored.decided_by) == (Verdict.NON_ATTEINT, 2, colleague)


# --- The answers of the bodies that fill a question ------------------------------------------------------


@pytest.fixture
def filled_by_am(world):
    node = NodeFactory(
        referential=world.campaign.referential,
        parent=world.values["2.a"].indicator.parent,
        code="2.b",
        label="Dépenses de biosimilaires",
        nombre=True,
        filled_by=FilledBy.AM,
        evaluated_by_ars=False,
        evaluated_by_am=True,
    )
    return IndicatorValueFactory(self_evaluation=world.self_evaluation, indicator=node, value="")


ANSWER = {"value": "1250", "not_applicable": False, "not_applicable_reason": "", "comment": "Chiffres SNDS."}


def test_the_body_that_fills_a_question_answers_it_with_its_history(world, filled_by_am):
    saved = decisions.fill_for_body(filled_by_am, acting_user=world.am, expected_version=1, answer=ANSWER)
    assert (saved.value, saved.comment, saved.version, saved.updated_by) == ("1250", "Chiffres SNDS.", 2, world.am)
    history = IndicatorValueHistory.objects.get(indicator_value=filled_by_am)
    assert history.changes["value"] == ["", "1250"] and history.changed_by == world.am
    assert AuditEvent.objects.filter(event_type=EventType.VALUE_SAVED, actor=world.am).count() == 1


@pytest.mark.parametrize("who", ["ars", "omedit"])
def test_other_bodies_cannot_fill_it(world, filled_by_am, who):
    with pytest.raises(decisions.DecisionRefused, match="n'est pas renseignée par l'instance"):
        decisions.fill_for_body(filled_by_am, acting_user=getattr(world, who), expected_version=1, answer=ANSWER)
    filled_by_am.refresh_from_db()
    assert (filled_by_am.value, filled_by_am.version) == ("", 1)
    assert not IndicatorValueHistory.objects.exists()


def test_nobody_fills_an_establishment_question_here(world):
    with pytest.raises(decisions.DecisionRefused):
        decisions.fill_for_body(world.values["1.a"], acting_user=world.ars, expected_version=1, answer=ANSWER)


def test_filling_after_a_concurrent_save_is_a_conflict(world, filled_by_am):
    decisions.fill_for_body(filled_by_am, acting_user=world.am, expected_version=1, answer=ANSWER)
    with pytest.raises(VersionConflict):
        decisions.fill_for_body(
            filled_by_am, acting_user=world.am, expected_version=1, answer={**ANSWER, "value": "9"}
        )
    filled_by_am.refresh_from_db()
    assert filled_by_am.value == "1250"


def test_progress_counts_the_bodys_questions(world):
    from evaluation.decisions import with_progress

    decide(world, "1.b", world.am, Verdict.ATTEINT)
    queryset = SelfEvaluation.objects.filter(pk=world.self_evaluation.pk)
    am = with_progress(queryset, EvaluatingBody.AM).get()
    assert (am.decided, am.to_decide) == (1, 2)  # 1.b and 2.a
    ars = with_progress(queryset, EvaluatingBody.ARS).get()
    assert (ars.decided, ars.to_decide) == (0, 3)  # 1.a, 1.b, 1.c
    national = with_progress(queryset, None).get()
    assert (national.decided, national.to_decide) == (0, 4)
