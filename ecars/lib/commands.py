"""The base of the operations commands (`manage.py import_finess`, `open_campaign`, `send_reminders`…).

Every such command (STYLE.md « Management commands »):
- is a dry run unless `--wet-run` is given: it reports what it would do and writes nothing (the command's
  service runs in a transaction that is rolled back, so that the dry run goes through every check);
- ends with a summary of counts (`summary`), says whether it was a dry run, and logs start, end and duration;
- shows a progress bar on stderr once a run lasts more than a couple of seconds (`progress`);
- fails with a French message and a non-zero exit status (`CommandError`), having written nothing.
"""

import contextlib
import logging
import sys
import time
from collections.abc import Iterable, Iterator

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction


logger = logging.getLogger("ecars.commands")


class ProgressCommand(BaseCommand):
    """A command with a progress bar (`progress`): the read-only ones (export_campaign, verify_backup) use it as is."""

    # Seconds before the progress bar shows: short runs stay quiet.
    PROGRESS_AFTER = 2.0

    def progress(self, iterable: Iterable, *, total: int, label: str) -> Iterator:
        """Yield from `iterable`, drawing `label : n/total (p %)` on stderr once the run passes PROGRESS_AFTER
        seconds, redrawn at most twice a second (one line per update when stderr is not a terminal)."""
        started = last = time.monotonic()
        shown = False
        terminal = getattr(sys.stderr, "isatty", lambda: False)()
        done = 0
        for done, item in enumerate(iterable, start=1):
            yield item
            now = time.monotonic()
            if now - started >= self.PROGRESS_AFTER and (now - last >= (0.5 if terminal else 5) or done == total):
                last = now
                shown = True
                self._draw(label, done, total, terminal)
        if shown and terminal:
            self.stderr.write("")

    def _draw(self, label, done, total, terminal):
        percent = 100 * done // total if total else 100
        bar = "#" * (percent // 5) + "." * (20 - percent // 5)
        line = f"{label} : [{bar}] {done}/{total} ({percent} %)"
        if terminal:
            self.stderr.write("\r" + line, ending="")
            self.stderr.flush()
        else:
            self.stderr.write(line)


class OpsCommand(ProgressCommand):
    """A command that writes. Subclasses implement `handle_ops(wet_run=…, **options)` (the work) and may add their
    own arguments in `add_ops_arguments(parser)`."""

    def add_arguments(self, parser):
        parser.add_argument(
            "--wet-run",
            action="store_true",
            help="écrire pour de bon ; sans cette option, la commande dit ce qu'elle ferait et n'écrit rien",
        )
        self.add_ops_arguments(parser)

    def add_ops_arguments(self, parser):
        pass

    def handle(self, *args, wet_run, **options):
        name = self.__module__.rsplit(".", 1)[-1]
        started = time.monotonic()
        logger.info("command %s started (wet_run=%s)", name, wet_run)
        if not wet_run:
            self.stdout.write("Simulation (--wet-run pour écrire) : rien ne sera enregistré ni envoyé.")
        try:
            self.handle_ops(wet_run=wet_run, **options)
        except (DatabaseError, OSError) as error:
            logger.exception("command %s failed", name)
            raise CommandError(
                f"La commande a échoué ({error}). Ce qui était en cours n'a pas été enregistré ; ce qui l'avait été "
                "avant l'erreur est conservé : relancez-la pour reprendre là où elle s'est arrêtée."
            ) from error
        finally:
            logger.info("command %s ended in %.1f s", name, time.monotonic() - started)

    def handle_ops(self, *, wet_run: bool, **options):
        raise NotImplementedError(f"{type(self).__module__} must define handle_ops()")

    def summary(self, counts: dict[str, int], *, wet_run: bool) -> None:
        """Print `counts` (label → number) under a heading that says whether anything was written."""
        self.stdout.write("Bilan :" if wet_run else "Bilan de la simulation (rien n'a été écrit) :")
        for label, count in counts.items():
            self.stdout.write(f"  {label} : {count}")


@contextlib.contextmanager
def written_if(wet_run: bool):
    """One transaction around a command's writes, rolled back at the end of a dry run (after every check and
    count ran on the real rows), committed — e-mails queued after the commit included — on a wet run."""
    with transaction.atomic():
        yield
        if not wet_run:
            transaction.set_rollback(True)
