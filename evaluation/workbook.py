"""« Télécharger le classeur » / « Déposer le classeur »: the self-evaluation as an XLSX workbook, for offline work.

Export: one sheet « Auto-évaluation », a header row, then one row per question the establishment fills
(ET-level questions: one row per ET). Users edit « Réalisé », « Non concerné », « Justification » and
« Commentaire évalué <année évaluée> », the page's words; the other cells, « Commentaire évalué N-1 » (the
previous campaign's comment, read in one query) included, are locked and greyed, the sheet protected without
password (a hint, not a security measure). A hidden column holds each answer's version at export time; a very
hidden sheet holds the self-evaluation's public id and what each editable cell held at export, keyed by (code,
FINESS), so that rows are identified by their key, never by their order, and a row the user did not touch is
never applied over someone else's later change. Every text cell is written as a string (never a formula) with Excel's
quote prefix when it starts like a formula (SECURITY.md D4).

Import (SECURITY.md E1–E4): the upload is refused unless it is a `.xlsx` of at most 5 Mo whose ZIP central
directory looks like a workbook (required parts, at most 200 entries, 50 Mo uncompressed, ratio ≤ 100, no
encryption, no macros, no links or odd names); only then openpyxl reads it, in read-only mode, never
evaluating anything (a formula cell is an error). Each changed row goes through the question form
(`evaluation.forms.AnswerForm`), so the rules are exactly those of the page. The result is a list of
changes and a list of errors; only a workbook without errors is applied, all or nothing, by
`import_answers`, each answer through `evaluation.services.save_answer`.
"""

import datetime
import hashlib
import io
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from documents.names import contract_file_name
from ecars.lib.http import RequestContext
from evaluation import services, values
from evaluation.display import (
    COMMENT_LABEL,
    FIELD_LABELS,
    PREVIOUS_COMMENT_LABEL,
    FieldChange,
    field_change,
    question_label,
)
from evaluation.earlier import previous_comments
from evaluation.enums import ValueType
from evaluation.forms import AnswerForm
from evaluation.models import IndicatorValue, SelfEvaluation
from evaluation.perms import Abilities
from evaluation.tree import build_tree


MO = 1024 * 1024
MIME_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "Auto-évaluation"
TECHNICAL_SHEET_TITLE = "ecars"
LISTS_SHEET_TITLE = "Listes"
FORMAT_MARK = "classeur e-CARS"
FORMAT_VERSION = "1"


class UploadLimits:
    MAX_SIZE = 5 * MO
    MAX_SIZE_LABEL = "5 Mo"
    MAX_ENTRIES = 200
    MAX_UNCOMPRESSED = 50 * MO
    MAX_RATIO = 100
    MAX_DATA_ROWS = 20_000
    MAX_SCANNED_ROWS = 30_000
    MAX_HEADER_COLUMNS = 30


# The columns of the sheet, in order. `key` is the internal name, `title` the header users see ({year}: the
# campaign's evaluated year, `column_titles`).
@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    editable: bool = False
    hidden: bool = False
    wrap: bool = False


COLUMNS = (
    Column("code", "Code", 12),
    Column("finess", "Établissement", 14),
    Column("question", "Question", 60, wrap=True),
    Column("type", "Type", 14),
    Column("unit", "Unité", 12),
    Column("choices", "Choix possibles", 24, wrap=True),
    Column("target", "Cible", 14),
    Column("value", "Réalisé", 18, editable=True),
    Column("not_applicable", "Non concerné", 14, editable=True),
    Column("not_applicable_reason", "Justification", 40, editable=True, wrap=True),
    Column("comment", COMMENT_LABEL, 50, editable=True, wrap=True),
    Column("previous_comment", PREVIOUS_COMMENT_LABEL, 50, wrap=True),
    Column("version", "Version", 10, hidden=True),
)
EDITABLE = tuple(column.key for column in COLUMNS if column.editable)
# Columns an import cannot do without (the informative ones may be missing or moved).
REQUIRED_COLUMNS = ("code", "finess", *EDITABLE, "version")

YES_LABEL, NO_LABEL = "OUI", "NON"
YES_NO_CHOICES = ("1 - OUI", "0 - NON")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_LOCKED_FILL = PatternFill("solid", fgColor="E5E5E5")
_HEADER_FILL = PatternFill("solid", fgColor="000091")
_HEADER_FONT = Font(bold=True, color="FFFFFF")


# --- Export ---------------------------------------------------------------------------------------


def establishment_questions(self_evaluation: SelfEvaluation):
    """The questions of the tree the establishment fills, in tree order (ET-level: one per ET)."""
    tree = build_tree(self_evaluation)
    return [q for q in tree.questions if q.node.is_indicator and q.node.is_filled_by_establishment]


def column_titles(year: int) -> dict[str, str]:
    """The headers of the sheet of a self-evaluation of the evaluated `year`, by column key: those of the
    question page (« Commentaire évalué 2025 », « Commentaire évalué N-1 »)."""
    return {column.key: column.title.format(year=year) for column in COLUMNS}


def filename(self_evaluation: SelfEvaluation) -> str:
    """« auto-evaluation-<FINESS of the EJ>-<contract's name>-<evaluated year>.xlsx » (documents/names.py)."""
    return contract_file_name(
        "auto-evaluation", self_evaluation.contract, self_evaluation.campaign.year, extension="xlsx"
    )


def safe_text(text) -> str:
    """Text as a workbook may hold it: no control characters Excel refuses, at most 32 767 characters."""
    return ILLEGAL_CHARACTERS_RE.sub("", str(text or ""))[:32767]


def write_text(sheet, row: int, column: int, text):
    """Write `text` as a string cell, never a formula (SECURITY.md D4).

    openpyxl turns any string starting with « = » into a formula: the type is forced back to string,
    and text starting like a formula also gets Excel's quote prefix, so that editing the cell in Excel
    keeps it text.
    """
    cell = sheet.cell(row=row, column=column)
    text = safe_text(text)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True
    return cell


def exported_cells(question) -> dict[str, str]:
    """What the editable cells of a question's row hold at export time."""
    value, value_type = question.value, question.node.value_type
    if value_type == ValueType.OUI_NON:
        shown = values.display(value_type, value.value)  # « 1 - OUI », as the list offers it
    else:
        shown = values.to_input(value_type, value.value)
    return {
        "value": shown,
        "not_applicable": YES_LABEL if value.not_applicable else NO_LABEL,
        "not_applicable_reason": value.not_applicable_reason,
        "comment": value.comment,
    }


def export_workbook(self_evaluation: SelfEvaluation, *, can: Abilities) -> bytes:
    """The workbook of a self-evaluation for a user of abilities `can`: the answers they may not edit now
    (`Abilities.edit`: reader, closed…) have every cell locked."""
    questions = establishment_questions(self_evaluation)
    previous = previous_comments(self_evaluation)
    titles = column_titles(self_evaluation.campaign.year)
    workbook = Workbook()
    workbook.properties.creator = "e-CARS"
    workbook.properties.title = safe_text(f"Auto-évaluation — {self_evaluation.contract.name}")
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    lists = workbook.create_sheet(LISTS_SHEET_TITLE)
    lists.sheet_state = "hidden"
    technical = workbook.create_sheet(TECHNICAL_SHEET_TITLE)
    technical.sheet_state = "veryHidden"

    for index, column in enumerate(COLUMNS, start=1):
        cell = write_text(sheet, 1, index, titles[column.key])
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        sheet.column_dimensions[letter].hidden = column.hidden

    position = {column.key: index for index, column in enumerate(COLUMNS, start=1)}
    yes_no = DataValidation(type="list", formula1='"{}"'.format(",".join(YES_NO_CHOICES)), allow_blank=True)
    not_applicable = DataValidation(type="list", formula1=f'"{YES_LABEL},{NO_LABEL}"', allow_blank=True)
    for validation in (yes_no, not_applicable):
        validation.showErrorMessage = True
        validation.errorTitle = "Valeur refusée"
    yes_no.error = "Choisissez « 1 - OUI » ou « 0 - NON »."
    not_applicable.error = "Choisissez OUI ou NON."
    choice_lists: dict[tuple, DataValidation] = {}

    write_text(technical, 1, 1, FORMAT_MARK)
    write_text(technical, 1, 2, FORMAT_VERSION)
    write_text(technical, 2, 1, "auto-évaluation")
    write_text(technical, 2, 2, str(self_evaluation.public_id))
    write_text(technical, 3, 1, "exporté le")
    write_text(technical, 3, 2, timezone.now().isoformat(timespec="seconds"))
    technical_columns = ("code", "finess", *EDITABLE)
    for index, key in enumerate(technical_columns, start=1):
        write_text(technical, 4, index, titles[key])

    for row, question in enumerate(questions, start=2):
        node, value = question.node, question.value
        editable = can.edit(question)
        cells = {
            "code": node.code,
            "finess": value.etablissement.finess if value.etablissement else "",
            "question": node.label + (f" — {value.etablissement.name}" if value.etablissement else ""),
            "type": ValueType(node.value_type).label,
            "unit": node.unit,
            "choices": " ; ".join(node.choices or ()) if node.value_type == ValueType.LISTE else "",
            "target": values.display(node.value_type, value.target),
            **exported_cells(question),
            "previous_comment": previous.get((node.code, value.etablissement_id), ""),
        }
        for key, text in cells.items():
            cell = write_text(sheet, row, position[key], text)
            column = COLUMNS[position[key] - 1]
            cell.alignment = Alignment(wrap_text=column.wrap, vertical="top")
            if editable and column.editable:
                cell.protection = Protection(locked=False)
            else:
                cell.fill = _LOCKED_FILL
        version = sheet.cell(row=row, column=position["version"], value=value.version)
        version.fill = _LOCKED_FILL
        for index, key in enumerate(technical_columns, start=1):
            write_text(technical, row + 3, index, cells[key])

        if not editable:
            continue
        value_cell = sheet.cell(row=row, column=position["value"]).coordinate
        not_applicable.add(sheet.cell(row=row, column=position["not_applicable"]).coordinate)
        if node.value_type == ValueType.OUI_NON:
            yes_no.add(value_cell)
        elif node.value_type == ValueType.LISTE and node.choices:
            key = tuple(node.choices)
            if key not in choice_lists:
                list_column = len(choice_lists) + 1
                for list_row, choice in enumerate(key, start=1):
                    write_text(lists, list_row, list_column, choice)
                letter = get_column_letter(list_column)
                validation = DataValidation(
                    type="list",
                    formula1=f"{quote_sheetname(LISTS_SHEET_TITLE)}!${letter}$1:${letter}${len(key)}",
                    allow_blank=True,
                )
                validation.showErrorMessage = True
                validation.errorTitle = "Valeur refusée"
                validation.error = "Choisissez une des valeurs proposées."
                choice_lists[key] = validation
            choice_lists[key].add(value_cell)

    for validation in (yes_no, not_applicable, *choice_lists.values()):
        if validation.sqref:
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "C2"
    last_visible = get_column_letter(max(position[column.key] for column in COLUMNS if not column.hidden))
    sheet.auto_filter.ref = f"A1:{last_visible}{max(len(questions) + 1, 1)}"
    # Protected without password: a hint of what to edit, not a security measure.
    sheet.protection.sheet = True
    sheet.protection.autoFilter = False
    sheet.protection.sort = False
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False

    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# --- Upload checks ----------------------------------------------------------------------------------


class WorkbookRefused(Exception):
    """The uploaded file is not a workbook we read; the message says why, in French."""


NOT_XLSX = "Ce fichier n'est pas un classeur Excel (.xlsx) : déposez le classeur téléchargé depuis e-CARS."


def check_name_and_size(name: str, size: int | None) -> None:
    name = unicodedata.normalize("NFC", name or "")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension != "xlsx":
        raise WorkbookRefused("Seuls les classeurs .xlsx sont acceptés.")
    if size is None or size > UploadLimits.MAX_SIZE:
        raise WorkbookRefused(f"Le classeur dépasse {UploadLimits.MAX_SIZE_LABEL}.")


def read_upload(uploaded) -> bytes:
    """The bytes of an uploaded workbook once its name, size and container are acceptable."""
    check_name_and_size(uploaded.name, uploaded.size)
    data = uploaded.read(UploadLimits.MAX_SIZE + 1)
    if len(data) > UploadLimits.MAX_SIZE:
        raise WorkbookRefused(f"Le classeur dépasse {UploadLimits.MAX_SIZE_LABEL}.")
    check_container(data)
    return data


def _central_directory_entries(data: bytes) -> int:
    """The entry count of the ZIP's end-of-central-directory record, read before zipfile parses anything."""
    tail = data[-(22 + 65535) :]
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < 22:
        raise WorkbookRefused(NOT_XLSX)
    _, _, _, entries, _, offset, _ = struct.unpack("<HHHHIIH", tail[position + 4 : position + 22])
    if entries == 0xFFFF or offset == 0xFFFFFFFF:
        raise WorkbookRefused(NOT_XLSX)  # ZIP64: never needed by a workbook of this size
    return entries


def check_container(data: bytes) -> None:
    """SECURITY.md E2/E4: an OOXML workbook, judged on its ZIP central directory, nothing extracted."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise WorkbookRefused(
            "Ce fichier est un ancien classeur (.xls) ou un classeur protégé par un mot de passe : "
            "enregistrez-le au format .xlsx, sans mot de passe."
        )
    if not data.startswith(b"PK\x03\x04"):
        raise WorkbookRefused(NOT_XLSX)
    if _central_directory_entries(data) > UploadLimits.MAX_ENTRIES:
        raise WorkbookRefused("Ce fichier compte trop d'éléments pour être un classeur e-CARS.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error, UnicodeDecodeError) as e:
        raise WorkbookRefused(NOT_XLSX) from e
    if len(entries) > UploadLimits.MAX_ENTRIES:
        raise WorkbookRefused("Ce fichier compte trop d'éléments pour être un classeur e-CARS.")
    names = [entry.filename for entry in entries]
    if len(set(names)) != len(names):
        raise WorkbookRefused(NOT_XLSX)
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise WorkbookRefused("Ce classeur est chiffré : enregistrez-le sans mot de passe.")
    for entry in entries:
        parts = entry.filename.replace("\\", "/").split("/")
        is_link = (entry.external_attr >> 16) & 0o170000 == 0o120000
        if entry.filename.startswith(("/", "\\")) or ".." in parts or ":" in entry.filename or is_link:
            raise WorkbookRefused(NOT_XLSX)
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WorkbookRefused(NOT_XLSX)
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= set(names):
        raise WorkbookRefused(NOT_XLSX)
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise WorkbookRefused("Ce classeur contient des macros : enregistrez-le au format .xlsx, sans macros.")
    uncompressed = sum(entry.file_size for entry in entries)
    compressed = sum(entry.compress_size for entry in entries)
    too_dense = any(
        entry.file_size > UploadLimits.MAX_RATIO * max(entry.compress_size, 1) for entry in entries
    ) or uncompressed > UploadLimits.MAX_RATIO * max(compressed, 1)
    if uncompressed > UploadLimits.MAX_UNCOMPRESSED or too_dense:
        raise WorkbookRefused(
            "Ce classeur est anormalement volumineux une fois décompressé : déposez le classeur téléchargé "
            "depuis e-CARS."
        )


# --- Import -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class RowChange:
    row: int
    value_id: int
    version: int
    answer: dict
    question: str  # « code - label — ET » as the preview shows it
    fields: list[FieldChange] = field(default_factory=list)

    def to_session(self) -> dict:
        return {"value": self.value_id, "version": self.version, "answer": self.answer}


@dataclass
class ImportResult:
    changes: list[RowChange]
    errors: list[RowError]

    @property
    def can_apply(self) -> bool:
        return not self.errors and bool(self.changes)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _header_key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


# Workbooks downloaded before the comment column was named after the evaluated year are read all the same.
_FORMER_HEADERS = {_header_key("Commentaire"): "comment"}


def _header_keys(titles: dict[str, str]) -> dict[str, str]:
    """The column key of each header this sheet may have, normalised (`_header_key`)."""
    return {**_FORMER_HEADERS, **{_header_key(title): key for key, title in titles.items()}}


def _number_text(number, number_format: str | None) -> str:
    if isinstance(number, bool):
        return "1" if number else "0"
    try:
        decimal = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    except InvalidOperation:
        return str(number)
    if number_format and "%" in number_format:
        decimal *= 100  # a cell formatted as a percentage holds 0.85 for 85 %
    if not decimal.is_finite():
        return str(number)
    return format(decimal.normalize(), "f")


@dataclass(frozen=True)
class CellText:
    text: str
    formula: bool = False
    error: bool = False


def _cell_text(cell) -> CellText:
    """What a cell holds, as the text a user would have typed."""
    value = getattr(cell, "value", None)
    data_type = getattr(cell, "data_type", "n")
    if data_type == "f":
        return CellText(str(value), formula=True)
    if data_type == "e":
        return CellText(str(value), error=True)
    if value is None:
        return CellText("")
    if isinstance(value, str):
        return CellText(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return CellText(value.strftime("%d/%m/%Y"))
    if isinstance(value, int | float | Decimal):
        return CellText(_number_text(value, getattr(cell, "number_format", None)))
    return CellText(str(value))


def _same_text(a: str, b: str) -> bool:
    """Equal once line endings are normalised (an XML round trip turns CR LF into LF) and edges trimmed."""

    def normal(text):
        return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()

    return normal(a) == normal(b)


def _read_rows(sheet, columns: int):
    """The sheet's rows as lists of cells (at most MAX_SCANNED_ROWS), whatever its declared dimension."""
    sheet.reset_dimensions()
    rows = []
    for row in sheet.iter_rows(min_row=1, max_row=UploadLimits.MAX_SCANNED_ROWS + 1, max_col=columns):
        rows.append(row)
        if len(rows) > UploadLimits.MAX_SCANNED_ROWS:
            raise WorkbookRefused(
                f"Le classeur compte trop de lignes ({UploadLimits.MAX_SCANNED_ROWS:,} au plus).".replace(",", " ")
            )
    return rows


def _load(data: bytes):
    """The two sheets we read, as lists of rows. openpyxl only reads: formulas are seen, never computed.

    data_only=False on purpose: with True, openpyxl hands back a formula's cached result as if it were a
    typed value, and a formula could not be refused.
    """
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as e:  # openpyxl raises many kinds of errors on a broken file
        raise WorkbookRefused("Ce classeur est illisible : déposez le classeur téléchargé depuis e-CARS.") from e
    try:
        if SHEET_TITLE not in workbook.sheetnames:
            raise WorkbookRefused(f"La feuille « {SHEET_TITLE} » est introuvable dans ce classeur.")
        if TECHNICAL_SHEET_TITLE not in workbook.sheetnames:
            raise WorkbookRefused(
                "Ce classeur n'a pas été téléchargé depuis e-CARS (sa feuille technique manque) : "
                "téléchargez le classeur de l'auto-évaluation, remplissez-le et déposez-le."
            )
        main = _read_rows(workbook[SHEET_TITLE], UploadLimits.MAX_HEADER_COLUMNS)
        technical = _read_rows(workbook[TECHNICAL_SHEET_TITLE], 2 + len(EDITABLE))
    except WorkbookRefused:
        raise
    except Exception as e:
        raise WorkbookRefused("Ce classeur est illisible : déposez le classeur téléchargé depuis e-CARS.") from e
    finally:
        workbook.close()
    return main, technical


def _exported(technical_rows, self_evaluation) -> dict[tuple[str, str], dict[str, str]]:
    """The technical sheet: check it belongs to this self-evaluation; the editable cells at export, by key."""

    def text(row, index):
        return _cell_text(row[index]).text.strip() if index < len(row) else ""

    if len(technical_rows) < 4 or text(technical_rows[0], 0) != FORMAT_MARK:
        raise WorkbookRefused("Ce classeur n'a pas été téléchargé depuis e-CARS : sa feuille technique est illisible.")
    if text(technical_rows[1], 1) != str(self_evaluation.public_id):
        raise WorkbookRefused(
            "Ce classeur est celui d'une autre auto-évaluation (autre contrat ou autre année) : "
            "téléchargez le classeur de celle-ci."
        )
    exported = {}
    for row in technical_rows[4:]:
        code, finess = text(row, 0), text(row, 1)
        if code:
            exported[(code, finess)] = {
                key: _cell_text(row[2 + i]).text if 2 + i < len(row) else "" for i, key in enumerate(EDITABLE)
            }
    return exported


def _yes_no_answer(text: str) -> str:
    """« 1 - OUI » → 1, « 0 - NON » → 0 (and OUI/NON alone); anything else is left for the form to refuse."""
    match = re.fullmatch(r"\s*(?:([01])\s*(?:-\s*(oui|non))?|(oui|non))\s*", text, flags=re.IGNORECASE)
    if not match:
        return text
    digit, word = match[1], (match[2] or match[3] or "").casefold()
    if digit and word and (digit == "1") != (word == "oui"):
        return text
    return digit or ("1" if word == "oui" else "0")


def _not_applicable(text: str) -> bool | None:
    normal = text.strip().casefold()
    if normal in ("", "non", "0", "0 - non", "false", "faux"):
        return False
    if normal in ("oui", "1", "1 - oui", "true", "vrai"):
        return True
    return None


def _who_changed(current) -> str:
    who = str(current.updated_by) if current.updated_by_id else "un autre utilisateur"
    when = timezone.localtime(current.updated_at).strftime("%d/%m/%Y à %H:%M")
    return f"{who} le {when}"


def conflict_message(question_label: str, current) -> str:
    return (
        f"La question « {question_label} » a été modifiée par {_who_changed(current)}, depuis le "
        "téléchargement du classeur. Aucune réponse du classeur n'a été enregistrée : téléchargez un "
        "nouveau classeur, reportez-y vos réponses et déposez-le."
    )


def _identify(
    number: int, cells: dict, questions: dict, seen: dict, titles: dict[str, str]
) -> tuple[tuple[str, str], list[RowError]]:
    """The row's key (code, FINESS), or the errors that make it unusable (formula, unknown, duplicate)."""
    errors = [
        RowError(number, titles[key], "Formule refusée : saisissez une valeur, pas une formule.")
        for key, cell in cells.items()
        if cell.formula
    ] + [
        RowError(number, titles[key], f"Cellule en erreur ({cell.text}) : saisissez une valeur.")
        for key, cell in cells.items()
        if cell.error
    ]
    code, finess = cells["code"].text.strip(), cells["finess"].text.strip()
    if finess.isdigit() and len(finess) < 9:
        finess = finess.zfill(9)  # a FINESS read back as a number lost its leading zeros
    key = (code, finess)
    if errors:
        return key, errors
    if key not in questions:
        codes = {known for known, _ in questions}
        column = titles["code"]
        if not code:
            message = "Code de question manquant."
        elif code not in codes:
            message = f"Code « {code} » inconnu : cette question n'est pas à renseigner dans cette auto-évaluation."
        elif finess:
            column = titles["finess"]
            message = f"La question {code} n'est pas à renseigner pour l'établissement « {finess} »."
        else:
            column = titles["finess"]
            message = f"La question {code} se renseigne par établissement : la colonne Établissement est vide."
        return key, [RowError(number, column, message)]
    if key in seen:
        message = f"Ligne en double : la question {code} figure déjà ligne {seen[key]}."
        return key, [RowError(number, titles["code"], message)]
    return key, []


def _row_change(
    number: int, cells: dict, question, original: dict | None, *, titles: dict[str, str], year: int
) -> "RowChange | list[RowError]":
    """What a row changes, validated by the question form; [] when it changes nothing. `titles`: the sheet's
    headers (`column_titles`) of the evaluated `year`."""
    raw = {name: cells[name].text for name in EDITABLE}
    if original is not None and all(_same_text(raw[name], original[name]) for name in EDITABLE):
        return []  # untouched since the export
    node, current = question.node, question.value
    version_text = cells["version"].text.strip()
    if not version_text.isdigit():
        message = (
            "Version manquante ou illisible : ne modifiez pas la colonne Version, téléchargez un nouveau classeur."
        )
        return [RowError(number, titles["version"], message)]
    version = int(version_text)
    not_applicable = _not_applicable(raw["not_applicable"])
    if not_applicable is None:
        return [RowError(number, titles["not_applicable"], "Saisissez OUI ou NON.")]
    answer_text = raw["value"]
    if node.value_type == ValueType.OUI_NON:
        answer_text = _yes_no_answer(answer_text)
    form = AnswerForm(
        data={
            "value": answer_text,
            "not_applicable": "on" if not_applicable else "",
            "not_applicable_reason": raw["not_applicable_reason"],
            "comment": raw["comment"],
            "version": str(max(version, 1)),
        },
        indicator=node,
    )
    if not form.is_valid():
        return [
            RowError(number, titles.get(name, ""), message)
            for name, messages in form.errors.items()
            for message in messages
        ]
    answer = form.answer()
    for name in ("value", "not_applicable_reason", "comment"):
        if _same_text(answer[name], getattr(current, name)):
            answer[name] = getattr(current, name)  # the same text: keep it as stored
    fields = [
        field_change(name, getattr(current, name), answer[name], node.value_type, year=year)
        for name in FIELD_LABELS
        if getattr(current, name) != answer[name]
    ]
    if not fields:
        return []  # the answer is already stored
    label = question_label(node, current.etablissement)
    if current.version != version:
        return [RowError(number, titles["version"], conflict_message(label, current))]
    return RowChange(row=number, value_id=current.pk, version=version, answer=answer, question=label, fields=fields)


def parse_workbook(data: bytes, self_evaluation: SelfEvaluation) -> ImportResult:
    """The changes a workbook brings to a self-evaluation, and its errors (row, column, message).

    `data` must have passed `check_container`. A row identical to what was exported is not a change,
    even if the answer changed on the site since; a changed row goes through the question form and,
    if its answer differs from the stored one, becomes a change applied to the exported version.
    """
    main_rows, technical_rows = _load(data)
    exported = _exported(technical_rows, self_evaluation)
    errors: list[RowError] = []
    changes: list[RowChange] = []
    if not main_rows:
        raise WorkbookRefused(f"La feuille « {SHEET_TITLE} » est vide.")

    year = self_evaluation.campaign.year
    titles = column_titles(year)
    headers = _header_keys(titles)
    header = main_rows[0]
    position: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = headers.get(_header_key(_cell_text(cell).text))
        if key and key not in position:
            position[key] = index
    missing = [titles[key] for key in REQUIRED_COLUMNS if key not in position]
    for title in missing:
        errors.append(RowError(1, title, f"La colonne « {title} » est introuvable dans la ligne d'en-tête."))
    if missing:
        return ImportResult(changes=[], errors=errors)

    questions = {
        (q.node.code, q.value.etablissement.finess if q.value.etablissement else ""): q
        for q in establishment_questions(self_evaluation)
    }
    seen: dict[tuple[str, str], int] = {}
    data_rows = 0
    for number, row in enumerate(main_rows[1:], start=2):
        cells = {key: _cell_text(row[index]) if index < len(row) else CellText("") for key, index in position.items()}
        if not any(cell.text.strip() for cell in cells.values()):
            continue
        data_rows += 1
        if data_rows > UploadLimits.MAX_DATA_ROWS:
            errors.append(RowError(number, "", f"Trop de lignes : {UploadLimits.MAX_DATA_ROWS} au plus."))
            break
        key, row_errors = _identify(number, cells, questions, seen, titles)
        if row_errors:
            errors.extend(row_errors)
            continue
        seen[key] = number
        outcome = _row_change(number, cells, questions[key], exported.get(key), titles=titles, year=year)
        if isinstance(outcome, RowChange):
            changes.append(outcome)
        else:
            errors.extend(outcome)
    return ImportResult(changes=changes, errors=sorted(errors, key=lambda e: e.row))


class ImportConflict(Exception):
    """A question of the workbook changed, or left the self-evaluation, since the preview: nothing of the
    workbook is applied. The message says which, in French."""


def import_answers(
    self_evaluation: SelfEvaluation, changes: list[dict], *, acting_user, context: RequestContext | None = None
) -> int:
    """Apply the changes of a previewed workbook (`RowChange.to_session()`), all or nothing, each through
    `services.save_answer` (its history and its audit). Returns the number of questions changed.

    Raises ImportConflict, or services.WriteRefused (the self-evaluation is not open to this user's writing
    now, audited), with nothing applied. `self_evaluation` is expected with its contract and EJ loaded.
    """
    by_pk = {
        value.pk: value
        for value in IndicatorValue.objects.filter(
            self_evaluation=self_evaluation, pk__in=[change["value"] for change in changes]
        ).select_related("indicator", "etablissement")
    }
    try:
        with transaction.atomic():
            for change in changes:
                value = by_pk.get(change["value"])
                if value is None:
                    raise ImportConflict("Une question du classeur n'existe plus dans cette auto-évaluation.")
                value.self_evaluation = self_evaluation  # loaded already: no query to reach the EJ again
                try:
                    services.save_answer(
                        value,
                        acting_user=acting_user,
                        expected_version=change["version"],
                        answer=change["answer"],
                        context=context,
                    )
                except services.VersionConflict as conflict:
                    current = IndicatorValue.objects.select_related("updated_by").get(pk=conflict.current.pk)
                    label = question_label(value.indicator, value.etablissement)
                    raise ImportConflict(conflict_message(label, current)) from conflict
    except services.WriteRefused as refusal:
        # Audited once the import is rolled back: the whole workbook was refused.
        services.record_refused_write(
            self_evaluation,
            acting_user=acting_user,
            target=self_evaluation,
            data={"via": "classeur", "reason": str(refusal)},
            context=context,
        )
        raise
    return len(changes)
