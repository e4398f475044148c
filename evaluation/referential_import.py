"""Import of a referential tree from an XLSX or CSV file: `manage.py import_referential` and the admin's
« Importer un référentiel » (evaluation/admin_pages/referential_import.py) both go through `import_referential`.

The file (XLSX: its first sheet; CSV: UTF-8 with or without BOM, `,` or `;`) has a header row, then one row per
node. Columns are recognised by their French or English header, whatever the case and accents (`COLUMNS`);
other columns are ignored and named in the report. A row without value type is a grouping node (objective,
sub-objective); a row with one is an indicator.

The whole file is checked before anything is written (`read_referential`): every error is listed with the row
number a spreadsheet shows (the header is row 1), and one error writes nothing. Then one transaction creates a
new `Referential` (version = the previous version of that name and contract type + 1) and its nodes in file
order, and records one audit event. A file whose tree is identical to the latest version creates nothing
(`content_sha256`: a hash of the nodes as stored, so the same tree in CSV or in XLSX is the same).

An indicator has no children in e-CARS: the tree (`evaluation.tree.build_tree`) shows a question inside its
parent's branch, and only grouping nodes are branches. A row whose parent is an indicator (the national CAQES
file has « REF2018-PHMEV-MED » under the indicator « REF2018-PHMEV-GLOBAL ») is therefore attached to the
nearest grouping ancestor of that indicator (a root when there is none), right after it in file order; the
report says so for each such row (`PlannedNode.attached_to`, `ReferentialFile.notices`).
"""

import csv
import datetime
import hashlib
import io
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.enums import EventType
from audit.services import record_event
from contracts.models import ContractType, Region
from ecars import privileges
from ecars.lib.http import RequestContext
from evaluation import values
from evaluation.enums import AnswerLevel, FilledBy, ValueType
from evaluation.models import Node, Referential


# A referential of a few hundred questions is a few dozen kilobytes; these bounds keep a wrong file cheap.
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_SCANNED_ROWS = 20 * MAX_ROWS  # blank rows included (a sheet formatted far below its data)
MAX_ERRORS_LISTED = 500

NAME_MAX_LENGTH = Referential._meta.get_field("name").max_length
VERSION_MAX = 32767  # PositiveSmallIntegerField


def _key(text) -> str:
    """A header or a keyword as compared: lowercase, without accents, `_`, `-` and runs of spaces as one space."""
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[\s_\-]+", " ", text).strip().lower()


# field -> the headers that name it (compared through _key).
COLUMNS = {
    "code": ("code",),
    "parent": ("parent", "parent code", "code parent", "parent_code"),
    "label": ("libellé", "label", "label_fr", "libellé fr", "intitulé"),
    "value_type": ("type", "value_type", "type de valeur", "type de réponse"),
    "unit": ("unité", "unit"),
    "choices": ("choix", "choices", "choix possibles"),
    "target": ("cible", "target", "default_target", "cible par défaut"),
    "filled_by": ("renseigné par", "renseignée par", "filled_by", "filled by"),
    "evaluated_by": ("évalué par", "évaluée par", "evaluated_by", "evaluated by", "instances"),
    "required": ("obligatoire", "required"),
    "help": ("aide", "help", "help_text"),
    "answer_level": ("niveau", "answer_level", "niveau de réponse"),
    "scope": ("national_or_regional", "national ou régional", "portée"),
    "region": ("région", "region", "code région"),
}
HEADERS = {_key(header): name for name, headers in COLUMNS.items() for header in headers}
REQUIRED_COLUMNS = {"code": "code", "label": "libellé"}

VALUE_TYPES = {
    **{_key(choice.value): choice.value for choice in ValueType},
    **{_key(choice.label): choice.value for choice in ValueType},
    **{
        _key(word): value
        for value, words in {
            ValueType.OUI_NON: ("oui/non", "oui-non", "booléen", "yes/no", "yes_no", "boolean"),
            ValueType.TAUX: ("%", "pourcentage", "taux %", "rate", "percentage"),
            ValueType.NOMBRE: ("number", "numérique", "entier", "montant"),
            ValueType.TEXTE: ("text", "texte libre"),
            ValueType.LISTE: ("list", "liste de valeurs"),
        }.items()
        for word in words
    },
}
FILLED_BY = {
    **{_key(choice.value): choice.value for choice in FilledBy},
    **{_key(choice.label): choice.value for choice in FilledBy},
    _key("ES"): FilledBy.ETABLISSEMENT,
    _key("établissement de santé"): FilledBy.ETABLISSEMENT,
    _key("establishment"): FilledBy.ETABLISSEMENT,
}
EVALUATING = {"ars": "ars", "am": "am", "assurance maladie": "am", "omedit": "omedit"}
NO_BODY = {"aucun", "aucune", "none"}
ANSWER_LEVELS = {
    **{_key(choice.value): choice.value for choice in AnswerLevel},
    **{_key(choice.label): choice.value for choice in AnswerLevel},
    _key("établissement"): AnswerLevel.ET,
    _key("établissement géographique"): AnswerLevel.ET,
}
YES = {"oui", "o", "yes", "y", "vrai", "true", "1", "x"}
NO = {"non", "n", "no", "faux", "false", "0"}
NATIONAL = {"national", "nationale", "nationaux"}
REGIONAL = {"regional", "regionale", "regionaux", "region"}
INDICATOR_ONLY = {"unit": "une unité", "choices": "des choix", "target": "une cible"}

FIELD_LIMITS = {
    "code": ("code trop long", Node._meta.get_field("code").max_length),
    "unit": ("unité trop longue", Node._meta.get_field("unit").max_length),
    "target": ("cible trop longue", Node._meta.get_field("default_target").max_length),
}
# What the URL of a question (`<str:code>`) and its anchors accept.
CODE_FORBIDDEN = re.compile(r"[\s/]")

TYPE_LABELS = {"": "regroupement", **{choice.value: choice.label for choice in ValueType}}


class ReferentialImportError(Exception):
    """The file cannot be imported: `errors` lists every reason, with its row."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class PlannedNode:
    """One row of the file as it will be stored."""

    row: int
    code: str
    parent_code: str  # as written in the file
    label: str
    value_type: str = ""
    unit: str = ""
    choices: list[str] = field(default_factory=list)
    default_target: str = ""
    filled_by: str = FilledBy.ETABLISSEMENT
    answer_level: str = AnswerLevel.EJ
    required: bool = True
    help_text: str = ""
    evaluated_by_ars: bool = True
    evaluated_by_am: bool = False
    evaluated_by_omedit: bool = False
    region: Region | None = None
    attached_to: str = ""  # the parent it is stored under (see the module's docstring)
    depth: int = 1

    @property
    def is_indicator(self) -> bool:
        return bool(self.value_type)

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.value_type]

    @property
    def filled_by_label(self) -> str:
        return FilledBy(self.filled_by).label

    @property
    def scope_label(self) -> str:
        return f"régional ({self.region.name})" if self.region else "national"

    @property
    def evaluated_by_label(self) -> str:
        names = [
            name
            for name, flag in (
                ("ARS", self.evaluated_by_ars),
                ("AM", self.evaluated_by_am),
                ("OMEDIT", self.evaluated_by_omedit),
            )
            if flag
        ]
        return ", ".join(names) or "aucune instance"

    def canonical(self) -> dict:
        return _canonical(
            code=self.code,
            parent=self.attached_to,
            label=self.label,
            value_type=self.value_type,
            unit=self.unit,
            choices=self.choices,
            default_target=self.default_target,
            filled_by=self.filled_by,
            answer_level=self.answer_level,
            required=self.required,
            help_text=self.help_text,
            evaluated_by=(self.evaluated_by_ars, self.evaluated_by_am, self.evaluated_by_omedit),
            region=self.region.code if self.region else "",
        )


def _canonical(**node) -> dict:
    node["choices"] = list(node["choices"])
    node["evaluated_by"] = list(node["evaluated_by"])
    return node


def _content_hash(canonical_nodes: list[dict]) -> str:
    text = json.dumps(canonical_nodes, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ReferentialFile:
    """What a file describes, checked as a whole: its nodes in file order, or the errors that stop it."""

    file_format: str  # "CSV" or "XLSX"
    file_sha256: str
    nodes: list[PlannedNode] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def content_sha256(self) -> str:
        return _content_hash([node.canonical() for node in self.nodes])

    @property
    def roots(self) -> list[PlannedNode]:
        return [node for node in self.nodes if not node.attached_to]

    @property
    def indicator_count(self) -> int:
        return sum(1 for node in self.nodes if node.is_indicator)

    def counts_by_depth(self) -> list[tuple[int, int]]:
        counts = Counter(node.depth for node in self.nodes)
        return sorted(counts.items())

    def counts_by_type(self) -> list[tuple[str, int]]:
        counts = Counter(node.value_type for node in self.nodes)
        return [(TYPE_LABELS[value], counts[value]) for value in TYPE_LABELS if counts[value]]

    def outline(self) -> list[PlannedNode]:
        """The nodes in tree order (each parent followed by its children, siblings in file order)."""
        children: dict[str, list[PlannedNode]] = {}
        for node in self.nodes:
            children.setdefault(node.attached_to, []).append(node)
        ordered = []
        stack = list(reversed(children.get("", [])))
        while stack:
            node = stack.pop()
            ordered.append(node)
            stack.extend(reversed(children.get(node.code, [])))
        return ordered


# --- Reading the file ----------------------------------------------------------------------------------------


def _looks_like_xlsx(content: bytes, filename: str) -> bool:
    return content.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm"))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(content: bytes, errors: list[str]) -> list[tuple[int, list[str]]]:
    """(row number, cells) of the first sheet; an unreadable file is one error."""
    from openpyxl import load_workbook

    rows = []
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if not _keep(rows, number, [_cell_text(value).strip() for value in values]):
                    return _too_long(errors, number)
        finally:
            workbook.close()
    except Exception:  # noqa: BLE001 - whatever breaks while reading a foreign file makes it unreadable
        errors.append(
            "Fichier : classeur XLSX illisible (fichier tronqué, endommagé ou d'un autre format). "
            "Enregistrez-le à nouveau depuis le tableur au format « Classeur Excel (.xlsx) » ou en CSV UTF-8."
        )
        return []
    return rows


def _csv_rows(content: bytes, errors: list[str]) -> list[tuple[int, list[str]]]:
    """(row number, cells) of a UTF-8 CSV, `,` or `;` as the header's separator says."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        errors.append(
            f"ligne {line} : texte illisible en UTF-8 (octet 0x{content[error.start]:02X}). Le fichier doit être "
            "enregistré en « CSV UTF-8 » : dans le tableur, « Enregistrer sous » puis « CSV UTF-8 (délimité par "
            "des virgules) »."
        )
        return []
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        errors.append(f"ligne {line} : caractère nul : ce n'est pas un fichier texte CSV.")
        return []
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if not _keep(rows, number, [cell.strip() for cell in cells]):
                return _too_long(errors, number)
    except csv.Error:
        errors.append(
            f"ligne {number + 1} : guillemets mal placés ou non refermés (fichier tronqué ?) : rien n'est lu au-delà."
        )
    return rows


def _keep(rows: list, number: int, cells: list[str]) -> bool:
    """Add a row unless it is blank; False once there are more rows than a referential ever has."""
    if any(cells):
        rows.append((number, cells))
    return len(rows) <= MAX_ROWS + 1 and number <= MAX_SCANNED_ROWS


def _too_long(errors: list[str], number: int) -> list:
    if number > MAX_SCANNED_ROWS:
        errors.append(
            f"Fichier : la feuille s'étend au-delà de la ligne {MAX_SCANNED_ROWS} (lignes vides comprises) : "
            "supprimez les lignes sous le référentiel."
        )
    else:
        errors.append(f"Fichier : plus de {MAX_ROWS} lignes ; un référentiel en compte quelques centaines.")
    return []


def _header_fields(number: int, header: list[str], errors: list[str]) -> tuple[dict[str, int], list[str], bool]:
    """field name -> column index, the ignored headers, and whether a required column is missing."""
    fields, ignored = {}, []
    for index, title in enumerate(header):
        name = HEADERS.get(_key(title))
        if name is None:
            if title:
                ignored.append(title)
            continue
        if name in fields:
            errors.append(
                f"ligne {number} : les colonnes « {header[fields[name]]} » et « {title} » disent la même chose."
            )
            continue
        fields[name] = index
    missing = False
    for name, label in REQUIRED_COLUMNS.items():
        if name not in fields:
            missing = True
            errors.append(
                f"ligne {number} : colonne « {label} » manquante (en-têtes lus : {', '.join(header) or 'aucun'})."
            )
    return fields, ignored, missing


def read_referential(content: bytes, *, filename: str = "") -> ReferentialFile:
    """Read and check a whole referential file. Nothing is written; `errors` says what stops it."""
    is_xlsx = _looks_like_xlsx(content, filename)
    parsed = ReferentialFile(file_format="XLSX" if is_xlsx else "CSV", file_sha256=hashlib.sha256(content).hexdigest())
    errors = parsed.errors
    if not content.strip(b" \t\r\n\xef\xbb\xbf"):
        errors.append("Fichier : le fichier est vide.")
        return parsed
    if len(content) > MAX_BYTES:
        errors.append(f"Fichier : {len(content) // 1024} Ko, plus que les {MAX_BYTES // 1024} Ko acceptés.")
        return parsed
    if filename.lower().endswith(".xls") and not is_xlsx:
        errors.append("Fichier : le format .xls (Excel 97-2003) n'est pas lu : enregistrez-le en .xlsx ou en CSV.")
        return parsed
    rows = _xlsx_rows(content, errors) if is_xlsx else _csv_rows(content, errors)
    if not rows:
        if not errors:
            errors.append("Fichier : aucune ligne d'en-tête ni de référentiel.")
        return parsed
    header_number, header = rows[0]
    fields, parsed.ignored_columns, missing = _header_fields(header_number, header, errors)
    if missing:
        return parsed
    if len(rows) == 1:
        errors.append("Fichier : aucune ligne sous l'en-tête : le référentiel serait vide.")
        return parsed
    regions = _regions() if {"scope", "region"} & fields.keys() else {}
    by_code: dict[str, PlannedNode] = {}
    for number, cells in rows[1:]:
        if not is_xlsx and len(cells) != len(header):
            errors.append(
                f"ligne {number} : {len(cells)} champs au lieu de {len(header)} comme l'en-tête (ligne tronquée, ou "
                "séparateur dans un texte sans guillemets ?)."
            )
            continue
        node = _read_row(number, cells, fields, regions, errors)
        if node is None:
            continue
        if node.code in by_code:
            errors.append(f"ligne {number} : code « {node.code} » en double (déjà ligne {by_code[node.code].row}).")
            continue
        by_code[node.code] = node
        parsed.nodes.append(node)
    _check_tree(parsed, by_code)
    errors.sort(key=_row_of)
    if len(errors) > MAX_ERRORS_LISTED:
        hidden = len(errors) - MAX_ERRORS_LISTED
        del errors[MAX_ERRORS_LISTED:]
        errors.append(f"… et {hidden} autres erreurs.")
    return parsed


def _row_of(error: str) -> int:
    """The (first) row an error is about, to list errors in file order; the file's own errors first."""
    match = re.match(r"lignes? (\d+)", error)
    return int(match[1]) if match else 0


def split_error(error: str) -> tuple[str, str]:
    """(« ligne 5 », the message) of an error as this module writes it; (« », error) when it names no place."""
    where, separator, message = error.partition(" : ")
    return (where, message) if separator and re.fullmatch(r"lignes? [\d, ]+|Fichier|Nom", where) else ("", error)


def _regions() -> dict[str, Region]:
    regions = {}
    for region in Region.objects.all():
        regions[_key(region.code)] = region
        regions[_key(region.name)] = region
    return regions


def _read_row(number, cells, fields, regions, errors) -> PlannedNode | None:
    """One row as a node, or None when it has no usable code; its errors are appended to `errors`."""

    def get(name) -> str:
        index = fields.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def error(message):
        errors.append(f"ligne {number} : {message}")

    code = get("code")
    if not code:
        error("code manquant.")
        return None
    where = f"« {code} »"
    for name, (label, limit) in FIELD_LIMITS.items():
        if len(get(name)) > limit:
            error(f"{where} : {label} ({len(get(name))} caractères, {limit} au plus).")
    if CODE_FORBIDDEN.search(code):
        error(f"{where} : un code ne contient ni espace ni « / ».")
    node = PlannedNode(row=number, code=code[: FIELD_LIMITS["code"][1]], parent_code=get("parent"), label=get("label"))
    if not node.label:
        error(f"{where} : libellé manquant.")

    raw_type = get("value_type")
    if raw_type:
        node.value_type = VALUE_TYPES.get(_key(raw_type), "")
        if not node.value_type:
            known = ", ".join(choice.value for choice in ValueType)
            error(
                f"{where} : type de valeur « {raw_type} » inconnu (types admis : {known} ; vide pour un regroupement)."
            )
    node.unit = get("unit")[: FIELD_LIMITS["unit"][1]]
    node.choices = [choice.strip() for choice in get("choices").split("|") if choice.strip()]
    node.help_text = get("help")
    if not raw_type:
        given = [label for name, label in INDICATOR_ONLY.items() if get(name)]
        if given:
            error(
                f"{where} : sans type de valeur (un regroupement), mais avec {' et '.join(given)} : indiquez son type."
            )
    elif node.value_type == ValueType.LISTE and not node.choices:
        error(f"{where} : une liste de choix sans choix (colonne « choix », séparés par « | »).")
    elif node.value_type and node.value_type != ValueType.LISTE and node.choices:
        error(f"{where} : des choix pour le type « {TYPE_LABELS[node.value_type]} » : seule une liste en a.")
    duplicates = sorted({choice for choice in node.choices if node.choices.count(choice) > 1})
    if duplicates:
        error(f"{where} : choix en double : {', '.join(duplicates)}.")
    node.default_target = _target(node, get("target")[: FIELD_LIMITS["target"][1]], where, error)

    raw = get("filled_by")
    if raw:
        node.filled_by = FILLED_BY.get(_key(raw), "")
        if not node.filled_by:
            error(f"{where} : « renseigné par » « {raw} » inconnu (établissement, ARS, AM ou OMEDIT).")
            node.filled_by = FilledBy.ETABLISSEMENT
    raw = get("evaluated_by")
    if raw:
        _evaluated_by(node, raw, where, error)
    raw = get("required")
    if raw:
        if _key(raw) in YES:
            node.required = True
        elif _key(raw) in NO:
            node.required = False
        else:
            error(f"{where} : « obligatoire » vaut « {raw} » : oui ou non attendu.")
    raw = get("answer_level")
    if raw:
        node.answer_level = ANSWER_LEVELS.get(_key(raw), "")
        if not node.answer_level:
            error(f"{where} : niveau de réponse « {raw} » inconnu (EJ ou ET).")
            node.answer_level = AnswerLevel.EJ
    _scope(node, get("scope"), get("region"), regions, where, error)
    return node


def _target(node, raw: str, where: str, error) -> str:
    """The default target, canonical where the value type has a canonical form (oui/non, date, liste)."""
    if not raw or not node.value_type:
        return raw
    if node.value_type == ValueType.OUI_NON:
        if _key(raw) in YES:
            return values.YES
        if _key(raw) in NO:
            return values.NO
        error(f"{where} : cible « {raw} » d'une question oui/non : oui ou non attendu.")
    elif node.value_type == ValueType.LISTE:
        if node.choices and raw not in node.choices:
            error(f"{where} : cible « {raw} » absente des choix ({' | '.join(node.choices)}).")
    elif node.value_type == ValueType.DATE:
        try:
            return values.parse_date(raw).isoformat()
        except ValidationError as invalid:
            error(f"{where} : cible « {raw} » : {invalid.messages[0]}")
    return raw


def _evaluated_by(node, raw: str, where: str, error) -> None:
    words = [_key(word) for word in re.split(r"[,;|/+]|\bet\b", raw, flags=re.IGNORECASE) if _key(word)]
    if len(words) == 1 and words[0] in NO_BODY:
        node.evaluated_by_ars = node.evaluated_by_am = node.evaluated_by_omedit = False
        return
    unknown = [word for word in words if word not in EVALUATING]
    if unknown:
        error(f"{where} : « évalué par » « {raw} » : instance inconnue ({', '.join(unknown)}) ; ARS, AM, OMEDIT.")
        return
    bodies = {EVALUATING[word] for word in words}
    node.evaluated_by_ars, node.evaluated_by_am, node.evaluated_by_omedit = (
        body in bodies for body in ("ars", "am", "omedit")
    )


def _scope(node, raw_scope: str, raw_region: str, regions, where: str, error) -> None:
    scope = _key(raw_scope)
    if scope and scope not in NATIONAL | REGIONAL:
        error(f"{where} : portée « {raw_scope} » inconnue (national ou régional).")
        return
    if scope in NATIONAL:
        if raw_region:
            error(f"{where} : national, mais avec la région « {raw_region} ».")
        return
    if raw_region:
        node.region = regions.get(_key(raw_region))
        if node.region is None:
            error(f"{where} : région « {raw_region} » inconnue (code INSEE ou nom de la région).")
    elif scope in REGIONAL:
        error(f"{where} : régional, mais sans région (colonne « région » : code INSEE ou nom).")


def _check_tree(parsed: ReferentialFile, by_code: dict[str, PlannedNode]) -> None:
    """Unknown parents, cycles, regional parents; then depths and where each node is attached."""
    errors = parsed.errors
    for node in parsed.nodes:
        if node.parent_code == node.code:
            errors.append(f"ligne {node.row} : « {node.code} » est son propre parent.")
        elif node.parent_code and node.parent_code not in by_code:
            errors.append(f"ligne {node.row} : parent « {node.parent_code} » inconnu (aucune ligne n'a ce code).")
    in_cycle: set[str] = set()
    done: set[str] = set()
    for node in parsed.nodes:
        path: list[str] = []
        current = node
        while current is not None and current.code not in done:
            if current.code in path:
                cycle = path[path.index(current.code) :]
                if not in_cycle & set(cycle) and len(cycle) > 1:
                    rows = ", ".join(str(row) for row in sorted(by_code[code].row for code in cycle))
                    errors.append(
                        f"lignes {rows} : cycle {' → '.join([*cycle, cycle[0]])} : un nœud ne peut pas "
                        "descendre de lui-même."
                    )
                in_cycle.update(cycle)
                break
            path.append(current.code)
            current = by_code.get(current.parent_code) if current.parent_code != current.code else None
        done.update(path)
    if in_cycle or any(node.parent_code == node.code for node in parsed.nodes):
        return
    for node in parsed.nodes:
        parent = by_code.get(node.parent_code)
        if parent is not None and parent.region is not None and node.region != parent.region:
            errors.append(
                f"ligne {node.row} : « {node.code} » dépend de « {parent.code} », nœud régional ({parent.region}) : "
                "il doit être un nœud de la même région."
            )
        attached = parent
        while attached is not None and attached.is_indicator:
            attached = by_code.get(attached.parent_code)
        node.attached_to = attached.code if attached is not None else ""
        if parent is not None and attached is not parent:
            where = f"rattaché à « {attached.code} »" if attached is not None else "placé à la racine"
            parsed.notices.append(
                f"ligne {node.row} : « {node.code} » est {where}, car son parent « {parent.code} » est un indicateur "
                "(dans e-CARS, un indicateur n'a pas d'enfants : ses sous-indicateurs deviennent ses voisins, dans "
                "l'ordre du fichier)."
            )
    depths: dict[str, int] = {}
    for node in parsed.nodes:
        node.depth = _depth(node, lambda n: by_code.get(n.attached_to), depths)


def _depth(node, parent_of, depths: dict[str, int]) -> int:
    """The depth of `node` (a root is 1) in a tree without cycles, remembered in `depths` for its ancestors."""
    chain = []
    current = node
    while current is not None and current.code not in depths:
        chain.append(current)
        current = parent_of(current)
    depth = depths[current.code] if current is not None else 0
    for ancestor in reversed(chain):
        depth += 1
        depths[ancestor.code] = depth
    return depths[node.code]


# --- Writing ---------------------------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    """`created`: a new version was written; otherwise `referential` is the identical latest version."""

    referential: Referential | None
    created: bool
    file: ReferentialFile
    version: int


def stored_content_sha256(referential: Referential) -> str:
    """The hash of a stored referential's nodes, comparable with `ReferentialFile.content_sha256`."""
    nodes = referential.nodes.select_related("parent", "region").order_by("position", "pk")
    return _content_hash(
        [
            _canonical(
                code=node.code,
                parent=node.parent.code if node.parent_id else "",
                label=node.label,
                value_type=node.value_type,
                unit=node.unit,
                choices=node.choices,
                default_target=node.default_target,
                filled_by=node.filled_by,
                answer_level=node.answer_level,
                required=node.required,
                help_text=node.help_text,
                evaluated_by=(node.evaluated_by_ars, node.evaluated_by_am, node.evaluated_by_omedit),
                region=node.region.code if node.region_id else "",
            )
            for node in nodes
        ]
    )


def check_name(name: str) -> list[str]:
    if not name.strip():
        return ["Nom : le nom du référentiel est vide."]
    if len(name.strip()) > NAME_MAX_LENGTH:
        return [f"Nom : {len(name.strip())} caractères, {NAME_MAX_LENGTH} au plus."]
    return []


def latest_version(contract_type: ContractType, name: str) -> Referential | None:
    return Referential.objects.filter(contract_type=contract_type, name=name.strip()).order_by("-version").first()


def plan_import(parsed: ReferentialFile, *, contract_type: ContractType, name: str) -> ImportOutcome:
    """What importing `parsed` would do now, without writing: the version it would create, or the identical one."""
    latest = latest_version(contract_type, name)
    if latest is not None and stored_content_sha256(latest) == parsed.content_sha256:
        return ImportOutcome(referential=latest, created=False, file=parsed, version=latest.version)
    return ImportOutcome(referential=None, created=True, file=parsed, version=latest.version + 1 if latest else 1)


def import_referential(
    content: bytes,
    *,
    filename: str,
    contract_type: ContractType,
    name: str,
    acting_user=None,
    context: RequestContext | None = None,
) -> ImportOutcome:
    """Create a new version of the referential `name` of `contract_type` from a file, unless its latest version
    has the same tree. Raises ReferentialImportError (nothing written) listing every error of the file.

    `acting_user` is None for an operations command; a user must hold `import` on referentials.
    """
    if acting_user is not None and not privileges.allows(acting_user, "evaluation.referential", "import"):
        raise PermissionDenied("Seuls les administrateurs nationaux importent un référentiel.")
    parsed = read_referential(content, filename=filename)
    errors = check_name(name) + parsed.errors
    if errors:
        raise ReferentialImportError(errors)
    name = name.strip()
    with transaction.atomic():
        # One import at a time per contract type: two would compute the same next version.
        ContractType.objects.select_for_update().filter(pk=contract_type.pk).first()
        outcome = plan_import(parsed, contract_type=contract_type, name=name)
        if not outcome.created:
            return outcome
        if outcome.version > VERSION_MAX:
            raise ReferentialImportError([f"Nom : la version {outcome.version} dépasse la dernière possible."])
        referential = Referential.objects.create(contract_type=contract_type, name=name, version=outcome.version)
        _create_nodes(referential, parsed)
        record_event(
            EventType.COMMAND_RUN,
            actor=acting_user,
            target=referential,
            data={
                "operation": "import_referential",
                "file": filename,
                "file_sha256": parsed.file_sha256,
                "content_sha256": parsed.content_sha256,
                "nodes": len(parsed.nodes),
                "indicators": parsed.indicator_count,
                "version": referential.version,
            },
            context=context,
        )
    outcome.referential = referential
    return outcome


def _create_nodes(referential: Referential, parsed: ReferentialFile) -> None:
    """One bulk insert per depth of the stored tree, parents first (so each row is inserted with its parent)."""
    created: dict[str, Node] = {}
    levels: dict[int, list[tuple[int, PlannedNode]]] = {}
    for position, node in enumerate(parsed.nodes):
        levels.setdefault(node.depth, []).append((position, node))
    for depth in sorted(levels):
        rows = [
            Node(
                referential=referential,
                parent=created.get(node.attached_to),
                code=node.code,
                label=node.label,
                position=position,
                value_type=node.value_type,
                unit=node.unit,
                choices=node.choices,
                default_target=node.default_target,
                filled_by=node.filled_by,
                answer_level=node.answer_level,
                required=node.required,
                help_text=node.help_text,
                evaluated_by_ars=node.evaluated_by_ars,
                evaluated_by_am=node.evaluated_by_am,
                evaluated_by_omedit=node.evaluated_by_omedit,
                region=node.region,
            )
            for position, node in levels[depth]
        ]
        for row in Node.objects.bulk_create(rows, batch_size=1000):
            created[row.code] = row
