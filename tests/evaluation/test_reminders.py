"""`manage.py send_reminders`: J-30, J-7, J-1 before each EJ's own deadline, only to EJ not closed, never twice; the
evaluators' reminders. les-emplois once sent threats to 255 employers whose check was already positive: the
targeting is what these tests are about."""

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from evaluation import reminders
from evaluation.enums import EvaluatingBody, NoticeKind, ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import ContradictoryRound, Notice, Observation, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, EntiteJuridiqueFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, SelfEvaluationFactory
from tests.evaluation.test_consolidation import World as EvaluationWorld


DEADLINE = datetime.date(2026, 4, 30)


class World:
    """One campaign; EJ « open » still writing (1 of 3 questions filled), EJ « closed » closed, EJ « extended »
    writing with an extension to 20/05."""

    def __init__(self, region):
        self.campaign = CampaignFactory(
            regions=[region],
            name="CAQES 2025",
            precampaign_start=None,
            precampaign_end=None,
            self_assessment_start=datetime.date(2026, 3, 1),
            self_assessment_deadline=DEADLINE,
        )
        referential = self.campaign.referential
        objective = NodeFactory(referential=referential, code="1", label="Objectif")
        self.nodes = [
            NodeFactory(
                referential=referential, parent=objective, code="1.1", label="Livret du médicament", oui_non=True
            ),
            NodeFactory(
                referential=referential, parent=objective, code="1.2", label="Taux de conciliation", taux=True
            ),
            NodeFactory(referential=referential, parent=objective, code="1.3", label="Nombre d'audits", nombre=True),
        ]
        self.open = self._self_evaluation(region, "ouvert", SelfEvaluationState.AUTO_EVALUATION, filled=1)
        self.closed = self._self_evaluation(region, "clos", SelfEvaluationState.CLOTUREE, filled=3)
        self.extended = self._self_evaluation(
            region,
            "prolonge",
            SelfEvaluationState.AUTO_EVALUATION,
            filled=0,
            extended_until=datetime.date(2026, 5, 20),
        )

    def _self_evaluation(self, region, name, state, *, filled, **fields):
        ej = EntiteJuridiqueFactory(region=region, name=f"CH {name.upper()}")
        contract = ContractFactory(ej=ej, contract_type=self.campaign.contract_type, name=f"CAQES {name.upper()}")
        closed_at = timezone.now() if state == SelfEvaluationState.CLOTUREE else None
        self_evaluation = SelfEvaluationFactory(
            contract=contract, campaign=self.campaign, state=state, closed_at=closed_at, **fields
        )
        for position, node in enumerate(self.nodes):
            IndicatorValueFactory(
                self_evaluation=self_evaluation, indicator=node, value="1" if position < filled else ""
            )
        MembershipFactory(ej=ej, user=UserFactory(email=f"qualite@{name}.fr"))
        MembershipFactory(ej=ej, user=UserFactory(email=f"directeur@{name}.fr"))
        MembershipFactory(ej=ej, user=UserFactory(email=f"parti@{name}.fr", is_active=False))
        return self_evaluation


@pytest.fixture
def world(region):
    return World(region)


def send(day, *, wet=True, capture):
    out = io.StringIO()
    with capture(execute=True):
        call_command(
            "send_reminders",
            *(["--wet-run"] if wet else []),
            "--date",
            day.isoformat(),
            stdout=out,
            stderr=io.StringIO(),
        )
    return out.getvalue()


def recipients(domain=""):
    """Who got an e-mail; with `domain`, only the members of that EJ (« ouvert.fr »…)."""
    return sorted(message.to[0] for message in mail.outbox if message.to[0].endswith(domain))


def test_j30_goes_to_the_members_of_the_ej_still_writing_with_the_fill_and_the_red_questions(
    world, django_capture_on_commit_callbacks
):
    output = send(DEADLINE - datetime.timedelta(days=30), capture=django_capture_on_commit_callbacks)
    assert "relance J-30 (courriels) : 2" in output
    # Not the closed EJ, not the inactive member, not the EJ whose extension puts its deadline 50 days away.
    assert recipients() == ["directeur@ouvert.fr", "qualite@ouvert.fr"]
    message = mail.outbox[0]
    assert "la saisie se termine dans 30 jours" in message.subject
    assert "jusqu'au 30/04/2026 inclus" in message.body
    assert "Pourcentage de remplissage : 33 %" in message.body
    assert "Questions encore à saisir (point rouge) : 2" in message.body
    assert "- 1.2 - Taux de conciliation" in message.body and "- 1.3 - Nombre d'audits" in message.body
    assert "1.1 - Livret" not in message.body
    notices = Notice.objects.filter(kind=NoticeKind.RELANCE_J30)
    assert {(notice.self_evaluation_id, notice.deadline) for notice in notices} == {(world.open.pk, DEADLINE)}
    assert notices.count() == 2


def test_no_reminder_is_ever_sent_twice(world, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    send(DEADLINE - datetime.timedelta(days=30), capture=capture)
    mail.outbox.clear()
    output = send(DEADLINE - datetime.timedelta(days=30), capture=capture)
    assert "Rien à envoyer" in output
    # The days after J-30 and before J-7: the J-30 reminder is not sent again.
    for days in (29, 20, 8):
        send(DEADLINE - datetime.timedelta(days=days), capture=capture)
    assert recipients("@ouvert.fr") == []
    send(DEADLINE - datetime.timedelta(days=7), capture=capture)
    assert recipients("@ouvert.fr") == ["directeur@ouvert.fr", "qualite@ouvert.fr"]
    assert "dans 7 jours" in mail.outbox[-1].subject
    mail.outbox.clear()
    send(DEADLINE - datetime.timedelta(days=6), capture=capture)
    assert recipients("@ouvert.fr") == []
    send(DEADLINE - datetime.timedelta(days=1), capture=capture)
    assert recipients("@ouvert.fr") == ["directeur@ouvert.fr", "qualite@ouvert.fr"]
    assert "la saisie se termine demain" in mail.outbox[-1].subject
    mail.outbox.clear()
    send(DEADLINE, capture=capture)
    assert recipients("@ouvert.fr") == []
    assert Notice.objects.filter(self_evaluation=world.open).count() == 6
    # Each member got each reminder once.
    assert sorted(Notice.objects.filter(self_evaluation=world.open).values_list("kind", flat=True)) == sorted(
        [NoticeKind.RELANCE_J30, NoticeKind.RELANCE_J7, NoticeKind.RELANCE_J1] * 2
    )


def test_missed_days_send_the_most_urgent_reminder_only(world, django_capture_on_commit_callbacks):
    send(DEADLINE - datetime.timedelta(days=5), capture=django_capture_on_commit_callbacks)
    sent = Notice.objects.filter(self_evaluation=world.open)
    assert set(sent.values_list("kind", flat=True)) == {NoticeKind.RELANCE_J7}
    # The extended EJ's own deadline is 25 days away: its J-30 reminder.
    assert set(Notice.objects.filter(self_evaluation=world.extended).values_list("kind", flat=True)) == {
        NoticeKind.RELANCE_J30
    }
    mail.outbox.clear()
    send(DEADLINE, capture=django_capture_on_commit_callbacks)  # J-1 was missed: sent on the day itself
    assert recipients("@ouvert.fr") == ["directeur@ouvert.fr", "qualite@ouvert.fr"]
    assert "dernier jour de saisie aujourd'hui" in mail.outbox[0].subject
    assert set(sent.values_list("kind", flat=True)) == {NoticeKind.RELANCE_J7, NoticeKind.RELANCE_J1}


def test_the_reminders_follow_each_ej_s_own_deadline(world, django_capture_on_commit_callbacks):
    send(datetime.date(2026, 5, 13), capture=django_capture_on_commit_callbacks)  # 7 days before the extension's end
    assert recipients() == ["directeur@prolonge.fr", "qualite@prolonge.fr"]
    assert "jusqu'au 20/05/2026 inclus" in mail.outbox[0].body
    assert "Pourcentage de remplissage : 0 %" in mail.outbox[0].body


def test_a_new_deadline_makes_new_reminders(world, django_capture_on_commit_callbacks):
    send(DEADLINE - datetime.timedelta(days=1), capture=django_capture_on_commit_callbacks)
    SelfEvaluation.objects.filter(pk=world.open.pk).update(extended_until=datetime.date(2026, 5, 6))
    mail.outbox.clear()
    send(datetime.date(2026, 5, 5), capture=django_capture_on_commit_callbacks)
    assert recipients() == ["directeur@ouvert.fr", "qualite@ouvert.fr"]
    assert "jusqu'au 06/05/2026 inclus" in mail.outbox[0].body


def test_an_ej_that_closes_between_the_count_and_the_sending_is_not_reminded(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    day = DEADLINE - datetime.timedelta(days=7)
    SelfEvaluation.objects.filter(pk=world.extended.pk).update(extended_until=None)
    seen = reminders.due(day)
    assert {self_evaluation.pk for self_evaluation, *_ in seen} == {world.open.pk, world.extended.pk}
    SelfEvaluation.objects.filter(pk=world.open.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=timezone.now()
    )
    monkeypatch.setattr(reminders, "due", lambda today: seen)
    send(day, capture=django_capture_on_commit_callbacks)
    assert recipients() == ["directeur@prolonge.fr", "qualite@prolonge.fr"]
    assert not Notice.objects.filter(self_evaluation=world.open).exists()


def test_closed_ej_are_never_reminded(region, django_capture_on_commit_callbacks):
    world = World(region)
    SelfEvaluation.objects.filter(pk__in=[world.open.pk, world.extended.pk]).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=timezone.now()
    )
    for days in (30, 7, 1, 0):
        send(DEADLINE - datetime.timedelta(days=days), capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert not Notice.objects.exists()


def test_the_dry_run_lists_and_sends_nothing(world, django_capture_on_commit_callbacks):
    output = send(DEADLINE - datetime.timedelta(days=7), wet=False, capture=django_capture_on_commit_callbacks)
    assert "Simulation" in output
    assert f"relance J-7 : {world.open.contract.ej.finess} « CAQES OUVERT » (échéance 30/04/2026)" in output
    assert "directeur@ouvert.fr, qualite@ouvert.fr" in output
    assert "relance J-7 (courriels) : 2" in output
    assert mail.outbox == []
    assert not Notice.objects.exists()


# --- Evaluators ------------------------------------------------------------------------------------------


@pytest.fixture
def evaluation(ej):
    """« En évaluation », closed 31 days ago; ARS, AM and OMEDIT questions undecided; an ARS agent elsewhere."""
    world = EvaluationWorld(ej)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(
        closed_at=timezone.now() - datetime.timedelta(days=31)
    )
    world.elsewhere = UserFactory(ars_staff=True)
    return world


def test_evaluators_hear_of_contracts_closed_30_days_ago_and_not_evaluated(
    evaluation, django_capture_on_commit_callbacks
):
    send(timezone.localdate(), capture=django_capture_on_commit_callbacks)
    assert recipients() == sorted([evaluation.ars.email, evaluation.am.email, evaluation.omedit.email])
    message = next(message for message in mail.outbox if message.to == [evaluation.ars.email])
    assert "1 contrat à évaluer" in message.subject
    assert "CAQES TEST" in message.body
    assert f"/admin/evaluation/evaluation/{evaluation.self_evaluation.pk}/evaluer/" in message.body
    mail.outbox.clear()
    send(timezone.localdate() + datetime.timedelta(days=1), capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_a_body_that_decided_everything_is_not_reminded(evaluation, django_capture_on_commit_callbacks):
    evaluation.decide("1.c", EvaluatingBody.OMEDIT, Verdict.ATTEINT)
    send(timezone.localdate(), capture=django_capture_on_commit_callbacks)
    assert evaluation.omedit.email not in recipients()
    assert evaluation.ars.email in recipients()


def test_a_contract_closed_29_days_ago_is_not_late(evaluation, django_capture_on_commit_callbacks):
    SelfEvaluation.objects.filter(pk=evaluation.self_evaluation.pk).update(
        closed_at=timezone.now() - datetime.timedelta(days=29)
    )
    send(timezone.localdate(), capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []


def _contradictory(evaluation, *, answered: bool, days_left: int):
    today = timezone.localdate()
    SelfEvaluation.objects.filter(pk=evaluation.self_evaluation.pk).update(
        state=SelfEvaluationState.CONTRADICTOIRE,
        contradictory_round=1,
        contradictory_deadline=today + datetime.timedelta(days=days_left),
    )
    round_ = ContradictoryRound.objects.create(
        self_evaluation=evaluation.self_evaluation,
        number=1,
        deadline=today + datetime.timedelta(days=days_left),
        opened_by=evaluation.ars,
        opened_at=timezone.now(),
    )
    Observation.objects.create(
        round=round_,
        value=evaluation.values["1.a"],
        text="Le livret existe.",
        status=ObservationStatus.ENVOYEE,
        written_by=UserFactory(),
        sent_at=timezone.now(),
        answered_at=timezone.now() if answered else None,
        answered_by=evaluation.ars if answered else None,
        answer="Le livret est joint." if answered else "",
    )


def test_the_ars_hears_of_observations_unanswered_7_days_before_the_end(
    evaluation, django_capture_on_commit_callbacks
):
    _contradictory(evaluation, answered=False, days_left=7)
    send(timezone.localdate(), capture=django_capture_on_commit_callbacks)
    assert recipients() == [evaluation.ars.email]
    assert "observations sans réponse" in mail.outbox[0].subject
    assert f"/admin/evaluation/evaluation/{evaluation.self_evaluation.pk}/consolidation/" in mail.outbox[0].body


@pytest.mark.parametrize(("answered", "days_left"), [(True, 5), (False, 8), (False, -1)])
def test_no_observation_reminder_when_answered_or_not_yet_due(
    evaluation, answered, days_left, django_capture_on_commit_callbacks
):
    _contradictory(evaluation, answered=answered, days_left=days_left)
    send(timezone.localdate(), capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_due_reminder_windows():
    assert [reminders.due_reminder(days) for days in (31, 30, 8, 7, 2, 1, 0, -1)] == [
        None,
        NoticeKind.RELANCE_J30,
        NoticeKind.RELANCE_J30,
        NoticeKind.RELANCE_J7,
        NoticeKind.RELANCE_J7,
        NoticeKind.RELANCE_J1,
        NoticeKind.RELANCE_J1,
        None,
    ]
