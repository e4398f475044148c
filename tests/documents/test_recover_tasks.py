"""`manage.py recover_tasks`: the tasks a killed worker left « RUNNING » are put back in the queue, the others are
left alone (the drill with a real worker: tests/drills/test_task_recovered.py)."""

import datetime
import io

from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit.enums import EventType
from audit.models import AuditEvent


def _task(status, minutes_ago):
    return DBTaskResult.objects.create(
        status=status,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago) if minutes_ago is not None else None,
        args_kwargs={"args": [], "kwargs": {"document_id": 1}},
        task_path="documents.antivirus.scan_document",
        worker_ids=["mort"] if minutes_ago is not None else [],
        backend_name="default",
        run_after=timezone.now(),
    )


def _run(*args):
    out = io.StringIO()
    call_command("recover_tasks", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _statuses(*tasks):
    return [DBTaskResult.objects.get(pk=task.pk).status for task in tasks]


def test_only_tasks_running_longer_than_the_threshold_are_put_back():
    stuck, recent, done, ready = (
        _task("RUNNING", 120),
        _task("RUNNING", 5),
        _task("SUCCESSFUL", 120),
        _task("READY", None),
    )

    dry = _run()
    assert "tâches à remettre en file (« RUNNING » depuis plus de 30 min) : 1" in dry
    assert str(stuck.id) in dry and str(recent.id) not in dry
    assert _statuses(stuck, recent, done, ready) == ["RUNNING", "RUNNING", "SUCCESSFUL", "READY"]
    assert not AuditEvent.objects.filter(event_type=EventType.COMMAND_RUN).exists()

    assert "tâches remises en file (« RUNNING » depuis plus de 30 min) : 1" in _run("--wet-run")
    assert _statuses(stuck, recent, done, ready) == ["READY", "RUNNING", "SUCCESSFUL", "READY"]
    assert DBTaskResult.objects.get(pk=stuck.pk).worker_ids == ["mort"]  # the dead worker stays in the history
    [event] = AuditEvent.objects.filter(event_type=EventType.COMMAND_RUN)
    assert event.data == {"operation": "recover_tasks", "older_than_minutes": 30, "tasks": [str(stuck.id)]}

    assert "remises en file (« RUNNING » depuis plus de 30 min) : 0" in _run("--wet-run")
    assert AuditEvent.objects.filter(event_type=EventType.COMMAND_RUN).count() == 1  # nothing written, no event
