"""Import a referential tree (objectives, sub-objectives, indicators) for a contract type from an XLSX file (first
sheet) or a UTF-8 CSV file (`,` or `;`), with a header row: code, parent, libellé, type, unité, choix (separated by
`|`), cible, renseigné par, évalué par, obligatoire, aide, niveau (EJ/ET), national_or_regional, région — French or
English headers; other columns are ignored.

The whole file is checked first: every bad row is listed with its number (the header is row 1) and nothing is
written. Otherwise a new version of the referential `--name` (the file's name by default) is created with its
nodes in file order, in one transaction; a file identical to the latest version creates nothing. Dry run by
default (what would be created: counts per level and type, the roots); --wet-run writes.
"""

from pathlib import Path

from django.core.management.base import CommandError

from contracts.models import ContractType
from ecars.lib.commands import OpsCommand, written_if
from evaluation import referential_import
from evaluation.referential_import import ReferentialImportError


def contract_type_by_code(code: str) -> ContractType:
    contract_type = ContractType.objects.filter(code__iexact=code.strip()).first()
    if contract_type is None:
        known = ", ".join(ContractType.objects.order_by("code").values_list("code", flat=True))
        raise CommandError(f"Type de contrat « {code} » inconnu. Types existants : {known or 'aucun'}.")
    return contract_type


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument("file", help="le fichier du référentiel (.xlsx ou .csv)")
        parser.add_argument(
            "--contract-type", required=True, help="code du type de contrat du référentiel (par exemple CAQES)"
        )
        parser.add_argument("--name", default=None, help="nom du référentiel ; par défaut, le nom du fichier")

    def handle_ops(self, *, wet_run, file, contract_type, name, **options):
        path = Path(file)
        try:
            content = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Fichier « {file} » illisible : {error.strerror or error}.") from error
        contract_type = contract_type_by_code(contract_type)
        name = path.stem if name is None else name
        out = self.stdout.write
        try:
            with written_if(wet_run):
                outcome = referential_import.import_referential(
                    content, filename=path.name, contract_type=contract_type, name=name
                )
        except ReferentialImportError as refused:
            out(self.style.ERROR(f"{len(refused.errors)} erreur(s) dans « {path.name} » :"))
            for error in refused.errors:
                out(f"  {error}")
            raise CommandError(
                f"Référentiel non importé : {len(refused.errors)} erreur(s), rien n'a été écrit."
            ) from None
        parsed = outcome.file
        out(
            f"Fichier {parsed.file_format} « {path.name} » (SHA-256 {parsed.file_sha256}) : {len(parsed.nodes)} nœuds."
        )
        if parsed.ignored_columns:
            out(f"Colonnes ignorées : {', '.join(parsed.ignored_columns)}.")
        for notice in parsed.notices:
            out(self.style.WARNING(f"  {notice}"))
        out("Nœuds par niveau :")
        for depth, count in parsed.counts_by_depth():
            out(f"  niveau {depth} : {count}")
        out("Nœuds par type :")
        for label, count in parsed.counts_by_type():
            out(f"  {label} : {count}")
        out("Racines :")
        for root in parsed.roots:
            out(f"  {root.code} - {root.label}")
        title = f"« {name.strip()} » ({contract_type.code})"
        if not outcome.created:
            out(f"Rien à faire : le référentiel {title} version {outcome.version} a déjà exactement ce contenu.")
        elif wet_run:
            out(f"Référentiel {title} version {outcome.version} créé.")
        else:
            out(f"Le référentiel {title} version {outcome.version} serait créé.")
        created = outcome.created
        self.summary(
            {
                "référentiels créés" if wet_run else "référentiels à créer": int(created),
                "nœuds créés" if wet_run else "nœuds à créer": len(parsed.nodes) if created else 0,
                "dont indicateurs": parsed.indicator_count if created else 0,
                "nœuds rattachés au-dessus de leur parent indicateur": len(parsed.notices) if created else 0,
            },
            wet_run=wet_run,
        )
