"""Put back in the queue the background tasks whose worker died under them (issue 16, SECURITY.md §R).

`manage.py db_worker` marks a task « RUNNING » when it takes it, and « SUCCESSFUL » or « FAILED » when it ends; a
worker killed in between (SIGKILL, out of memory, a machine lost) leaves the row « RUNNING » for ever, and no worker
takes it again: django-tasks-db has no heartbeat nor reclaiming. This command finds the tasks « RUNNING » for
longer than --older-than minutes and makes them « READY » again, for a worker to run once more (their history of
workers, `worker_ids`, is kept). No e-CARS task lasts more than a few seconds (a document scan is bound by
CLAMD_TIMEOUT, an e-mail by EMAIL_TIMEOUT): a task still running after the threshold (30 minutes) is taken as its
worker's death. The tasks are built to be run again (a scan re-reads the document, an e-mail is sent by a task that
had not recorded it as sent).

Dry run by default: it lists them; --wet-run puts them back, in one transaction with one audit event (the tasks'
ids). Logged, one line per task put back. Meant for a cron job every few minutes.
"""

import logging
from datetime import timedelta

from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from audit.enums import EventType
from audit.services import record_event
from ecars.lib.commands import OpsCommand


logger = logging.getLogger("ecars.tasks")


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=30,
            metavar="MINUTES",
            help="tâches « RUNNING » depuis plus de MINUTES minutes (30) ; 0 : toutes, seulement une fois chaque "
            "worker arrêté",
        )

    def handle_ops(self, *, wet_run, older_than, **options):
        if older_than < 0:
            raise CommandError("--older-than doit être positif ou nul.")
        cutoff = timezone.now() - timedelta(minutes=older_than)
        with transaction.atomic():
            # Locked, so that two runs at once never put the same task back twice.
            stuck = list(
                DBTaskResult.objects.running()
                .filter(started_at__lt=cutoff)
                .select_for_update(skip_locked=True)
                .order_by("started_at")
            )
            for task in stuck:
                self.stdout.write(
                    f"  {task.id} {task.task_path}, commencée le {timezone.localtime(task.started_at):%d/%m/%Y %H:%M} "
                    f"par {task.worker_ids[-1] if task.worker_ids else '?'}"
                )
            if wet_run and stuck:
                DBTaskResult.objects.filter(pk__in=[task.pk for task in stuck]).update(status=TaskResultStatus.READY)
                for task in stuck:
                    logger.warning(
                        "task put back in the queue: %s %s (started %s by %s)",
                        task.id,
                        task.task_path,
                        task.started_at.isoformat(),
                        ",".join(task.worker_ids),
                    )
                record_event(
                    EventType.COMMAND_RUN,
                    data={
                        "operation": "recover_tasks",
                        "older_than_minutes": older_than,
                        "tasks": [str(task.id) for task in stuck],
                    },
                )
        label = "tâches remises en file" if wet_run else "tâches à remettre en file"
        self.summary({f"{label} (« RUNNING » depuis plus de {older_than} min)": len(stuck)}, wet_run=wet_run)
