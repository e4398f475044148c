"""Import legal entities (EJ) and establishments (ET) from the public FINESS extract (contracts.finess_import).

FILE is the etalab « Extraction du Fichier des établissements » as published (semicolon-separated, ISO-8859-1,
no header, `structureet` lines; gzip-compressed is accepted too). The whole file is checked first: if any line
is bad (field count, FINESS number, encoding, department, an ET listed twice with different EJ, a truncated
file), every bad line is listed with its number and the reason, nothing is written and the exit status is 1.
Otherwise the plan is printed (EJ and ET to create, to update — each changed field, old → new — and unchanged)
and, with --wet-run only, applied in one transaction with one audit event. Running the same file twice changes
nothing the second time.
"""

from pathlib import Path

from django.core.management.base import CommandError

from contracts import finess_import
from ecars.lib.commands import OpsCommand, written_if


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="le fichier FINESS (CSV etalab, ou le même compressé en .gz)")
        parser.add_argument(
            "--details",
            type=int,
            default=20,
            metavar="N",
            help="nombre de changements montrés en détail par catégorie (20 par défaut, 0 pour aucun)",
        )

    def handle_ops(self, *, wet_run, file, details, **options):
        if details < 0:
            raise CommandError("--details doit être positif ou nul.")
        path = Path(file)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as error:
            raise CommandError(f"Fichier introuvable : {file}") from error
        except OSError as error:
            raise CommandError(f"Lecture impossible de {file} : {error.strerror}") from error
        try:
            parsed = finess_import.parse_extract(finess_import.read_extract(raw), progress=self.progress)
            plan = finess_import.compute_plan(parsed)
        except finess_import.FinessImportRefused as refused:
            self._refuse(file, refused)
        self.stdout.write(f"Fichier {path.name} : {plan.lines} lignes, empreinte SHA-256 {plan.sha256}.")
        for kind, count in sorted(plan.skipped.items()):
            self.stdout.write(f"  Ignorées : {kind} : {count}")
        self._print_plan(plan, details)
        try:
            with written_if(wet_run):
                applied = finess_import.apply_import(
                    parsed,
                    expected_digest=plan.digest,
                    source="commande",
                    file_name=path.name,
                    progress=self.progress,
                )
        except finess_import.PlanChanged as changed:
            raise CommandError(str(changed)) from changed
        counts = applied.counts(done=wet_run)
        self.summary(counts, wet_run=wet_run)
        if not applied.has_changes:
            self.stdout.write("Rien à créer ni à mettre à jour : la base est déjà à jour avec ce fichier.")

    def _refuse(self, file, refused):
        self.stdout.write(self.style.ERROR(f"Le fichier {file} est refusé ; rien n'a été écrit :"))
        for error in refused.errors:
            self.stdout.write(f"  {error}")
        lines = sum(1 for error in refused.errors if error.line is not None)
        if lines:
            raise CommandError(
                f"Import refusé : {lines} ligne(s) en erreur dans {file} (détail ci-dessus) ; rien n'a été écrit."
            )
        raise CommandError("Import refusé (motif ci-dessus) ; rien n'a été écrit.")

    def _print_plan(self, plan, details):
        out = self.stdout.write
        sections = [
            ("Régions à créer", [f"{info.code} {info.name} ({info.agency_name})" for info in plan.regions_to_create]),
            (
                "EJ à créer",
                [f"{ej.finess} {ej.name} — {ej.region.name} (ligne {ej.line})" for ej in plan.ej_to_create],
            ),
            (
                "EJ à mettre à jour",
                [f"{ej.finess} {ej.name} — " + " ; ".join(map(str, ej.changes)) for ej in plan.ej_to_update],
            ),
            (
                "ET à créer",
                [
                    f"{et.finess} {et.name} — EJ {et.record.ej_finess} (ligne {et.record.line})"
                    for et in plan.et_to_create
                ],
            ),
            (
                "ET à mettre à jour",
                [
                    f"{et.finess} {et.name} (ligne {et.record.line}) — " + " ; ".join(map(str, et.changes))
                    for et in plan.et_to_update
                ],
            ),
        ]
        if details:
            for title, lines in sections:
                if not lines:
                    continue
                shown = lines[:details]
                more = f" ({len(shown)} premiers sur {len(lines)})" if len(lines) > len(shown) else ""
                out(f"{title}{more} :")
                for line in shown:
                    out(f"  {line}")
        if plan.warnings:
            out(self.style.WARNING(f"Avertissements ({len(plan.warnings)}, ils n'empêchent pas l'import) :"))
            for warning in plan.warnings:
                out(f"  {warning}")
