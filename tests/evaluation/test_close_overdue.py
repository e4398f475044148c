"""`manage.py close_overdue`: at the deadline, the self-evaluations still open are « clôturées d'office » (reason,
receipt, the EJ told); extensions respected, closed ones left alone, nothing twice."""

import datetime
import io

import pypdf
import pytest
from django.core import mail
from django.core.management import call_command

from evaluation.enums import NoticeKind, SelfEvaluationState
from evaluation.models import ClosureReceipt, Notice, SelfEvaluation, Transition
from tests.evaluation.test_reminders import DEADLINE, World


@pytest.fixture
def world(region):
    return World(region)


def close(day, *, wet=True, capture):
    out = io.StringIO()
    with capture(execute=True):
        call_command(
            "close_overdue",
            *(["--wet-run"] if wet else []),
            "--date",
            day.isoformat(),
            stdout=out,
            stderr=io.StringIO(),
        )
    return out.getvalue()


def reload(self_evaluation):
    return SelfEvaluation.objects.get(pk=self_evaluation.pk)


def test_the_day_after_the_deadline_an_open_self_evaluation_is_closed_d_office(
    world, django_capture_on_commit_callbacks
):
    output = close(DEADLINE + datetime.timedelta(days=1), capture=django_capture_on_commit_callbacks)
    assert "auto-évaluations clôturées d'office : 1" in output
    closed = reload(world.open)
    assert closed.state == SelfEvaluationState.CLOTUREE
    assert closed.closed_by is None and closed.closed_at is not None
    transition = Transition.objects.get(self_evaluation=closed, to_state=SelfEvaluationState.CLOTUREE)
    assert transition.user is None
    assert transition.reason == "Clôturée d'office : la date limite de saisie du 30/04/2026 est passée."
    # The receipt, as for a signataire's closure, with what was filled.
    receipt = ClosureReceipt.objects.get(self_evaluation=closed)
    assert receipt.closed_by is None
    assert (receipt.filled, receipt.total) == (1, 3)
    with receipt.file.open("rb") as stored:
        text = "".join(page.extract_text() for page in pypdf.PdfReader(stored).pages)
    assert "d'office" in text and "30/04/2026" in text
    # Every active member of the EJ is told, with the receipt.
    assert sorted(message.to[0] for message in mail.outbox) == ["directeur@ouvert.fr", "qualite@ouvert.fr"]
    message = mail.outbox[0]
    assert "close d'office le" in message.body and "la date limite de saisie du 30/04/2026 est passée" in message.body
    assert message.attachments[0][0].startswith("attestation-cloture-")
    assert Notice.objects.filter(kind=NoticeKind.CLOTURE_OFFICE, self_evaluation=closed).count() == 2
    # The extended EJ writes on; the closed one is untouched.
    assert reload(world.extended).state == SelfEvaluationState.AUTO_EVALUATION
    assert not ClosureReceipt.objects.filter(self_evaluation=world.closed).exists()


def test_on_the_deadline_day_itself_nothing_is_closed(world, django_capture_on_commit_callbacks):
    output = close(DEADLINE, capture=django_capture_on_commit_callbacks)
    assert "Rien à faire" in output
    assert reload(world.open).state == SelfEvaluationState.AUTO_EVALUATION
    assert mail.outbox == []


def test_the_extension_s_end_closes_the_extended_one(world, django_capture_on_commit_callbacks):
    close(DEADLINE + datetime.timedelta(days=1), capture=django_capture_on_commit_callbacks)
    close(datetime.date(2026, 5, 20), capture=django_capture_on_commit_callbacks)
    assert reload(world.extended).state == SelfEvaluationState.AUTO_EVALUATION
    close(datetime.date(2026, 5, 21), capture=django_capture_on_commit_callbacks)
    assert reload(world.extended).state == SelfEvaluationState.CLOTUREE


def test_the_dry_run_lists_and_closes_nothing(world, django_capture_on_commit_callbacks):
    output = close(DEADLINE + datetime.timedelta(days=1), wet=False, capture=django_capture_on_commit_callbacks)
    assert "Simulation" in output
    assert f"{world.open.contract.ej.finess} « CAQES OUVERT »" in output and "rempli à 33 %" in output
    assert "auto-évaluations à clôturer d'office : 1" in output
    assert reload(world.open).state == SelfEvaluationState.AUTO_EVALUATION
    assert not ClosureReceipt.objects.exists()
    assert mail.outbox == []


def test_a_second_run_closes_and_sends_nothing(world, django_capture_on_commit_callbacks):
    close(DEADLINE + datetime.timedelta(days=1), capture=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    output = close(DEADLINE + datetime.timedelta(days=2), capture=django_capture_on_commit_callbacks)
    assert "Rien à faire" in output
    assert ClosureReceipt.objects.count() == 1
    assert Transition.objects.filter(self_evaluation=world.open).count() == 1
    assert mail.outbox == []


def test_an_extension_granted_meanwhile_wins(world, monkeypatch, django_capture_on_commit_callbacks):
    """The list is read, then each row is locked and checked again: an extension granted in between is respected."""
    from evaluation import overdue

    day = DEADLINE + datetime.timedelta(days=1)
    listed = list(overdue.overdue(day).values_list("pk", flat=True))
    SelfEvaluation.objects.filter(pk=world.open.pk).update(extended_until=DEADLINE + datetime.timedelta(days=10))
    monkeypatch.setattr(overdue, "overdue", lambda today: SelfEvaluation.objects.filter(pk__in=listed))
    close(day, capture=django_capture_on_commit_callbacks)
    assert reload(world.open).state == SelfEvaluationState.AUTO_EVALUATION
    assert mail.outbox == []
