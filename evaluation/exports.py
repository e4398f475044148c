"""« Exporter » a campaign: every answer of a campaign, one row per answer (IndicatorValue), with who answered
(region, département, EJ, contract, ET), the self-evaluation's state, the question, the answer, the number of
documents attached to it, each body's decision and the consolidated one; as CSV or XLSX. Read-only: nothing is
written in the database. Used by `manage.py export_campaign` and by the actions « Exporter (CSV) » and
« Exporter (Excel) » of the campaigns' admin; an ARS agent's export is always limited to their own region
(`region_of`).

Streamed: the rows come from one query (joins for the decisions, a subquery for the documents count) read in
chunks by a server-side cursor, whatever the number of contracts; the private notes of the decisions are never
read. Rows are ordered by region, EJ, contract, question (its position in the referential) and ET.

Cells are typed: text (`str`), numbers (`Decimal`, `int`), dates (`datetime.date`) or empty (None). The formula
injection rule (SECURITY.md D4, OWASP « CSV Injection »):
- a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return never becomes a formula: in CSV it is
  prefixed with a single quote `'`; in XLSX it is a string cell (never a formula, whatever it holds) with Excel's
  quote prefix, its text unchanged (but for line ends, written as line feeds: XML would read a carriage
  return as one);
- a number cell is only ever made from a number the database holds (an answer of type taux or nombre, a target
  that is a plain number, a count), checked against a strict pattern: it is written as a number (a typed cell
  in XLSX, « -3,5 » with a decimal comma in CSV), so that a negative number stays a number. Anything else,
  a target such as « ≥ 80 » included, is text and protected.

CSV: UTF-8 with a byte order mark, `;` between cells, CRLF line ends, decimal commas and dates as dd/mm/yyyy
(what French Excel opens as is). XLSX: one sheet, a bold frozen header row, dates as date cells (dd/mm/yyyy).
"""

import csv
import datetime
import logging
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, FilteredRelation, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from contracts.finess import department_of
from ecars import privileges
from evaluation.display import comment_label, value_type_shown
from evaluation.enums import EvaluatingBody, SelfEvaluationState, ValueType, Verdict
from evaluation.models import Attachment, Campaign, IndicatorValue
from evaluation.workbook import FORMULA_PREFIXES, safe_text


logger = logging.getLogger(__name__)

CSV, XLSX = "csv", "xlsx"
FORMATS = (CSV, XLSX)
MIME_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK_SIZE = 2000
SHEET_TITLE = "Export"
YES, NO = "Oui", "Non"

# The bodies' decision columns, in the order ARS, Assurance Maladie, OMEDIT.
BODIES = tuple(EvaluatingBody)

Cell = str | Decimal | int | datetime.date | None

# A number as the database stores it (IndicatorValue.value, canonical): nothing else is written as a number.
_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,10})?")


def headers(campaign: Campaign) -> list[str]:
    """The header row, in French (the comment is « Commentaire évalué <année évaluée> », as on the pages)."""
    decisions = []
    for body in BODIES:
        decisions += [f"Décision {body.label}", f"Motivation {body.label}"]
    return [
        "Région",
        "Département",
        "FINESS EJ",
        "Entité juridique",
        "Contrat",
        "FINESS ET",
        "Établissement",
        "Etat en cours",
        "Clôturée le",
        "Code",
        "Question",
        "Type de réponse",
        "Cible",
        "Réalisé",
        "Non concerné",
        "Justification",
        comment_label(campaign.year),
        "Documents joints",
        *decisions,
        "Décision consolidée",
        "Motivation consolidée",
    ]


def region_of(user):
    """The region an export by `user` is limited to: None (every region) for a national administrator, their own
    region for an ARS agent; anybody else may not export (PermissionDenied)."""
    if not privileges.allows(user, "evaluation.campaign", "export"):
        raise PermissionDenied("Vous n'avez pas le droit d'exporter une campagne.")
    if user.is_national_admin:
        return None
    if user.region_id is None:  # pragma: no cover - an agent always has a region (accounts_user_staff_has_region)
        raise PermissionDenied("Vous n'avez pas le droit d'exporter une campagne.")
    return user.region


def file_name(campaign: Campaign, region, fmt: str) -> str:
    """« export-<code>[-<region code>].<csv|xlsx> » (a campaign's code is a slug: plain ASCII)."""
    suffix = f"-{region.code}" if region is not None else ""
    return f"export-{campaign.code}{suffix}.{fmt}"


def log_export(campaign: Campaign, region, fmt: str, *, user=None) -> None:
    """Who exported what (the server's log, not the audit trail: nothing is written in the database)."""
    logger.info(
        "export of campaign %s (region %s, %s) by %s",
        campaign.code,
        region.code if region is not None else "all",
        fmt,
        f"user {user.pk}" if user is not None else "a command",
    )


def _queryset(campaign: Campaign, region):
    """The answers of `campaign` (of `region`'s EJ only, if given) as dictionaries, in export order: one query."""
    documents = (
        Attachment.objects.filter(indicator_value=OuterRef("pk"), withdrawn_at__isnull=True)
        .order_by()
        .values("indicator_value")
        .annotate(count=Count("pk"))
        .values("count")
    )
    queryset = IndicatorValue.objects.filter(self_evaluation__campaign=campaign)
    if region is not None:
        queryset = queryset.filter(self_evaluation__contract__ej__region=region)
    # One LEFT JOIN per body: a body decides at most once per answer (evaluation_decision_one_per_body).
    relations = {
        f"decision_{body}": FilteredRelation("decisions", condition=Q(decisions__body=body)) for body in BODIES
    }
    decided = {}
    for body in BODIES:
        decided[f"{body}_verdict"] = F(f"decision_{body}__verdict")
        decided[f"{body}_motivation"] = F(f"decision_{body}__motivation")
    return (
        queryset.annotate(**relations)
        .order_by(
            "self_evaluation__contract__ej__region__code",
            "self_evaluation__contract__ej__finess",
            "self_evaluation__contract__name",
            "self_evaluation_id",
            "indicator__position",
            "indicator_id",
            F("etablissement__finess").asc(nulls_first=True),
        )
        .values(
            # Named one by one: the private notes are never read.
            "self_evaluation__contract_id",
            "target",
            "value",
            "not_applicable",
            "not_applicable_reason",
            "comment",
            region_name=F("self_evaluation__contract__ej__region__name"),
            ej_finess=F("self_evaluation__contract__ej__finess"),
            ej_name=F("self_evaluation__contract__ej__name"),
            contract_name=F("self_evaluation__contract__name"),
            et_finess=F("etablissement__finess"),
            et_name=F("etablissement__name"),
            state=F("self_evaluation__state"),
            closed_at=F("self_evaluation__closed_at"),
            code=F("indicator__code"),
            label=F("indicator__label"),
            value_type=F("indicator__value_type"),
            unit=F("indicator__unit"),
            documents=Coalesce(Subquery(documents, output_field=IntegerField()), 0),
            consolidated_verdict=F("consolidation__verdict"),
            consolidated_motivation=F("consolidation__motivation"),
            **decided,
        )
    )


def _number(raw: str) -> Decimal | None:
    return Decimal(raw) if _NUMBER.fullmatch(raw) else None


def typed_answer(value_type: str, raw: str) -> Cell:
    """A stored answer (or target) as a cell: « Oui »/« Non », a number, a date, or the text as stored (a target
    such as « ≥ 80 » stays text); None when empty."""
    if raw == "":
        return None
    if value_type == ValueType.OUI_NON:
        return {"1": YES, "0": NO}.get(raw, raw)
    if value_type in (ValueType.TAUX, ValueType.NOMBRE):
        number = _number(raw)
        return raw if number is None else number
    if value_type == ValueType.DATE:
        try:
            return datetime.date.fromisoformat(raw)
        except ValueError:
            return raw
    return raw


def _label(choices, code: str | None) -> str | None:
    return choices(code).label if code else None


class CampaignExport:
    """The export of `campaign`, of `region`'s EJ only if given. `rows()` yields the rows (header excluded) and
    counts them as it goes: `row_count`, `contract_count` once read to the end."""

    def __init__(self, campaign: Campaign, *, region=None, chunk_size: int = CHUNK_SIZE):
        self.campaign = campaign
        self.region = region
        self.chunk_size = chunk_size
        self.headers = headers(campaign)
        self.row_count = 0
        self._contracts: set[int] = set()

    @property
    def contract_count(self) -> int:
        return len(self._contracts)

    def count(self) -> int:
        """How many rows the export will have (one query; for a progress bar)."""
        return _queryset(self.campaign, self.region).count()

    def rows(self) -> Iterator[list[Cell]]:
        departments: dict[str, str] = {}
        types: dict[tuple[str, str], str] = {}
        for row in _queryset(self.campaign, self.region).iterator(chunk_size=self.chunk_size):
            self.row_count += 1
            self._contracts.add(row["self_evaluation__contract_id"])
            ej_finess, value_type = row["ej_finess"], row["value_type"]
            if ej_finess not in departments:
                departments[ej_finess] = department_of(ej_finess)
            type_key = (value_type, row["unit"])
            if type_key not in types:
                types[type_key] = value_type_shown(_Indicator(value_type, row["unit"])) if value_type else ""
            decisions = []
            for body in BODIES:
                decisions += [_label(Verdict, row[f"{body}_verdict"]), row[f"{body}_motivation"]]
            closed_at = row["closed_at"]
            yield [
                row["region_name"],
                departments[ej_finess],
                ej_finess,
                row["ej_name"],
                row["contract_name"],
                row["et_finess"],
                row["et_name"],
                SelfEvaluationState(row["state"]).label,
                timezone.localtime(closed_at).date() if closed_at else None,
                row["code"],
                row["label"],
                types[type_key],
                typed_answer(value_type, row["target"]),
                typed_answer(value_type, row["value"]),
                YES if row["not_applicable"] else NO,
                row["not_applicable_reason"],
                row["comment"],
                row["documents"],
                *decisions,
                _label(Verdict, row["consolidated_verdict"]),
                row["consolidated_motivation"],
            ]


class _Indicator:
    """What `value_type_shown` reads of an indicator."""

    def __init__(self, value_type: str, unit: str):
        self.value_type, self.unit = value_type, unit


# --- CSV ------------------------------------------------------------------------------------------------


def protected(text: str) -> str:
    """Text that a spreadsheet would read as a formula, prefixed with a single quote (OWASP « CSV Injection »)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return protected(str(value))


class _Line:
    """A file-like object whose `write` returns what it is given: one CSV line at a time, for streaming."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: list[str], rows: Iterable[list[Cell]]) -> Iterator[str]:
    """The CSV file, one line at a time (the first one starts with the byte order mark)."""
    writer = csv.writer(_Line(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + writer.writerow([protected(title) for title in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


# --- XLSX -----------------------------------------------------------------------------------------------


_BOLD = Font(bold=True)
_DATE_FORMAT = "DD/MM/YYYY"


def xlsx_cell(sheet, value: Cell):
    """A typed cell: numbers and dates as such; text always a string cell, never a formula (module docstring)."""
    if value is None or isinstance(value, (Decimal, int)):
        return value
    if isinstance(value, datetime.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = _DATE_FORMAT
        return cell
    text = safe_text(value)
    # XML reads a carriage return as a line feed: written as one, so that the cell holds what was written.
    cell = WriteOnlyCell(sheet, value=text.replace("\r\n", "\n").replace("\r", "\n"))
    # openpyxl makes « =… » a formula and « #N/A » an error: forced back to a string, whatever it holds.
    cell.data_type = "s"
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True
    return cell


def write_xlsx(header: list[str], rows: Iterable[list[Cell]], target) -> None:
    """Write the workbook to `target` (a path or a binary file), streamed: openpyxl's write-only mode keeps
    no row in memory."""
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "e-CARS"
    sheet = workbook.create_sheet(SHEET_TITLE)
    sheet.freeze_panes = "A2"
    titles = []
    for title in header:
        cell = xlsx_cell(sheet, title)
        cell.font = _BOLD
        titles.append(cell)
    sheet.append(titles)
    for row in rows:
        sheet.append([xlsx_cell(sheet, value) for value in row])
    workbook.save(target)
