"""Export every answer of a campaign, one row per answer, as CSV or XLSX: who answered (region, département, EJ,
contract, ET), the self-evaluation's state, the question, the answer, its documents count, each body's decision
and the consolidated one (never the private notes). Read-only: writes nothing in the database.

    manage.py export_campaign CAQES-2025 --format csv [--region 76] [--output FILE]

The file is named « export-<code>[-<region>].<csv|xlsx> » in the current directory unless --output says
otherwise (« --output - »: standard output); an existing file of that name is replaced, once the export is
complete. Cells that a spreadsheet would read as a formula come out as text (evaluation/exports.py). The summary
(rows, contracts) and the progress bar go to standard error.
"""

import logging
import os
import tempfile
import time
from pathlib import Path

from django.core.management.base import CommandError

from contracts.models import Region
from ecars.lib.commands import ProgressCommand
from evaluation import exports
from evaluation.models import Campaign


logger = logging.getLogger("ecars.commands")

STDOUT = "-"


# Read-only, hence no --wet-run, no dry run and no summary on stdout (which may carry the file): only
# the progress bar (ProgressCommand) is used.
class Command(ProgressCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("campaign", metavar="CAMPAGNE", help="le code de la campagne (par exemple caqes-2025)")
        parser.add_argument(
            "--format",
            required=True,
            choices=exports.FORMATS,
            help="csv (UTF-8, « ; », pour Excel en français) ou xlsx (classeur Excel)",
        )
        parser.add_argument(
            "--region",
            metavar="CODE",
            help="le code INSEE d'une région de la campagne (par exemple 76) : ses seules EJ ; toutes sinon",
        )
        parser.add_argument(
            "--output",
            metavar="FICHIER",
            help="le fichier à écrire (« - » : la sortie standard) ; par défaut export-<code>[-<région>].<format> "
            "dans le dossier courant",
        )

    def handle(self, *args, campaign, region=None, output=None, **options):
        fmt = options["format"]
        started = time.monotonic()
        logger.info("command export_campaign started (campaign=%s, format=%s, region=%s)", campaign, fmt, region)
        try:
            self.export(campaign, fmt, region, output)
        finally:
            logger.info("command export_campaign ended in %.1f s", time.monotonic() - started)

    def export(self, code, fmt, region_code, output):
        campaign = self.find_campaign(code)
        region = self.find_region(campaign, region_code) if region_code else None
        export = exports.CampaignExport(campaign, region=region)
        exports.log_export(campaign, region, fmt)
        rows = self.progress(export.rows(), total=export.count(), label="Export")
        if output == STDOUT:
            where = "la sortie standard"
            self.write_to_stdout(export, rows, fmt)
        else:
            path = Path(output or exports.file_name(campaign, region, fmt))
            where = str(path)
            self.write_to_file(export, rows, fmt, path)
        scope = f"région {region.code} ({region.name})" if region else "toutes régions"
        self.stderr.write(
            f"Export de la campagne « {campaign.name} » ({campaign.code}, {scope}) : {export.row_count} ligne(s), "
            f"{export.contract_count} contrat(s) → {where}. Rien n'a été écrit en base.",
            style_func=self.style.SUCCESS,
        )

    def find_campaign(self, code: str) -> Campaign:
        try:
            return Campaign.objects.get(code=code)
        except Campaign.DoesNotExist:
            known = ", ".join(Campaign.objects.order_by("-year", "code").values_list("code", flat=True)[:10])
            raise CommandError(
                f"Campagne inconnue : « {code} ». "
                + (f"Campagnes existantes : {known}." if known else "Aucune campagne.")
            ) from None

    def find_region(self, campaign: Campaign, code: str) -> Region:
        regions = list(campaign.regions.order_by("code"))
        codes = ", ".join(f"{region.code} ({region.name})" for region in regions) or "aucune"
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise CommandError(f"Région inconnue : « {code} ». Régions de la campagne {campaign.code} : {codes}.")
        if region not in regions:
            raise CommandError(
                f"La région {region.code} ({region.name}) ne participe pas à la campagne {campaign.code}. "
                f"Régions de la campagne : {codes}."
            )
        return region

    def write_to_stdout(self, export, rows, fmt):
        if fmt == exports.CSV:
            for line in exports.csv_lines(export.headers, rows):
                self.stdout.write(line, ending="")
            self.stdout.flush()
            return
        binary = getattr(self.stdout, "buffer", None)
        if binary is None:
            raise CommandError("La sortie standard n'accepte pas de fichier binaire : indiquez --output FICHIER.")
        exports.write_xlsx(export.headers, rows, binary)
        binary.flush()

    def write_to_file(self, export, rows, fmt, path: Path):
        """Written beside `path` under a temporary name, then renamed: never a half-written file under its name."""
        if path.is_dir():
            raise CommandError(f"« {path} » est un dossier : indiquez un nom de fichier.")
        folder = path.parent
        if not folder.is_dir():
            raise CommandError(f"Le dossier « {folder} » n'existe pas.")
        try:
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
        except OSError as error:
            raise CommandError(f"Impossible d'écrire dans le dossier « {folder} » : {error.strerror}.") from None
        try:
            if fmt == exports.CSV:
                with open(handle, "w", encoding="utf-8", newline="") as file:
                    file.writelines(exports.csv_lines(export.headers, rows))
            else:
                with open(handle, "wb") as file:
                    exports.write_xlsx(export.headers, rows, file)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
