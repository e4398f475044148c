"""Import of legal entities (EJ) and establishments (ET) from the public FINESS extract (DOMAIN.md §8).

The file is the etalab « Extraction du Fichier des établissements » as published: semicolon-separated,
ISO-8859-1, no header. Line 1 may be a comment (`finess;etalab;…`); each `structureet` line has the 32
fields of `STRUCTUREET_FIELDS`; the other record types (the `geolocalisation` lines at the end) are skipped
and counted. A file compressed with gzip (`.gz`) is read the same way (`read_extract`).

The whole file is checked before anything is written (`parse_extract`): every bad line is listed with its
number and the reason, and then nothing is written (`FinessImportRefused`). A line is bad when:
- its bytes are not ISO-8859-1 text. Every byte is some ISO-8859-1 character, so the rule is about what they
  mean: a byte that decodes to a control character (C0: 0x00–0x1F, tab included, 0x7F; C1: 0x80–0x9F, which
  is what a Windows-1252 « ’ » or « œ » becomes) is refused, and so is a line whose non-ASCII bytes form valid
  UTF-8 (« HÃ´PITAL »): real Latin-1 text never does, since an accented letter (0xC0–0xFF) is then followed
  by a symbol (0xA0–0xBF) rather than a letter. A whole file that decodes as UTF-8 is refused as « encodé
  en UTF-8, attendu ISO-8859-1 », and a UTF-16 one likewise;
- a `structureet` line has not 32 fields (the last line of the file with too few: the file is truncated;
  a skipped record type's last line with fewer fields than the first line of that type, too);
- `nofinesset` or `nofinessej` is not a FINESS number (`contracts.finess.validate_finess`), the department
  is unknown (`contracts.regions`), both names are empty, or a field is longer than its column;
- an ET is listed twice with different EJ (or different data); an identical repetition is only counted.

Mapping of a `structureet` line:
- ET: `nofinesset`; name `rslongue`, else `rs`; address `numvoie` `compvoie` `typvoie` `voie` (the
  number's complement, B for bis, follows the number), else `lieuditbp`; postcode and city from
  `ligneacheminement` (« 31059 TOULOUSE CEDEX 9 »: the 5 digits, then the rest); `telephone`.
- EJ: `nofinessej`. The extract has no EJ lines, and its 32 columns do not carry `nofinessppal` (the
  EJ's main establishment), so an EJ's reference ET is its first ET in the file: an EJ created by the
  import takes that ET's name and coordinates. An existing EJ keeps its name and coordinates (they are
  the EJ's own, maybe corrected by an agent); only its region follows the file.
- Region: that of the department (`contracts.regions.region_of_department`) of the EJ's reference ET; a
  Region row missing for it is created with the official code, name and agency (matched by code). An EJ
  whose ET lie in several regions gets a warning.

The plan (`compute_plan`) lists the EJ and ET to create, to update (each changed field, old → new, an ET
moving to another EJ included) and the unchanged ones. `apply_import` applies it in one transaction
(bulk writes by batches; an advisory lock makes concurrent imports wait for each other), recomputing it
first: given the plan's digest shown in a preview, it refuses if the database changed since. One audit event
records the import (`ops.command`, with the counts). ET and EJ missing from the file are left alone (a
regional or partial extract does not close anything). Running the same file twice changes nothing.
"""

import codecs
import hashlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection, transaction
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.finess import FINESS_PATTERN, finess_luhn_ok
from contracts.models import Contract, EntiteJuridique, Etablissement, Region
from contracts.regions import RegionInfo, normalize_department, region_of_department
from ecars.lib.http import RequestContext


STRUCTUREET_FIELDS = (
    "structureet",
    "nofinesset",
    "nofinessej",
    "rs",
    "rslongue",
    "complrs",
    "compldistrib",
    "numvoie",
    "typvoie",
    "voie",
    "compvoie",
    "lieuditbp",
    "commune",
    "departement",
    "libdepartement",
    "ligneacheminement",
    "telephone",
    "telecopie",
    "categetab",
    "libcategetab",
    "categagretab",
    "libcategagretab",
    "siret",
    "codeape",
    "codemft",
    "libmft",
    "codesph",
    "libsph",
    "dateouv",
    "dateautor",
    "datemaj",
    "numuai",
)
FIELD_COUNT = len(STRUCTUREET_FIELDS)
_INDEX = {name: position for position, name in enumerate(STRUCTUREET_FIELDS)}

# A compressed upload is refused beyond this size once decompressed (a national extract is far smaller).
MAX_CONTENT_SIZE = 300 * 1024 * 1024
# Rows per INSERT / UPDATE; FINESS numbers per lookup, and from how many the whole table is read instead.
BATCH_SIZE = 1000
LOOKUP_CHUNK = 5000
FULL_SCAN_FROM = 20000

_FINESS_RE = re.compile(FINESS_PATTERN)
_RECORD_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_POSTAL_RE = re.compile(r"(\d{5})(?:\s+(.*))?")
_LOCK_KEY = 0x45434152_46494E  # « ECARS-FIN »: one import at a time

# Model columns and their lengths, for the lines' checks (labels as the admin shows them).
_MAX_LENGTHS = {
    "name": ("raison sociale", Etablissement._meta.get_field("name").max_length),
    "address": ("adresse", Etablissement._meta.get_field("address").max_length),
    "postcode": ("code postal", Etablissement._meta.get_field("postcode").max_length),
    "city": ("commune", Etablissement._meta.get_field("city").max_length),
    "phone": ("téléphone", Etablissement._meta.get_field("phone").max_length),
}
ET_FIELDS = ("name", "address", "postcode", "city", "phone")
FIELD_LABELS = {key: label for key, (label, _) in _MAX_LENGTHS.items()}

Progress = Callable[..., Iterable]


def _no_progress(iterable, *, total, label):
    return iterable


# --- Errors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineError:
    """A bad line (`line` counts from 1), or the whole file (`line` None)."""

    line: int | None
    reason: str

    def __str__(self):
        return self.reason if self.line is None else f"ligne {self.line} : {self.reason}"


class FinessImportRefused(Exception):
    """The file cannot be imported; `errors` lists every reason, in French, for the user."""

    def __init__(self, errors: list[LineError]):
        self.errors = sorted(errors, key=lambda error: (error.line is not None, error.line or 0))
        super().__init__(f"{len(self.errors)} erreur(s) dans le fichier FINESS")


class PlanChanged(Exception):
    """The database changed between the preview of an import and its confirmation."""

    def __init__(self):
        super().__init__(
            "Les établissements ont été modifiés depuis l'aperçu de cet import : rien n'a été importé. "
            "Relancez l'aperçu pour voir les changements à jour."
        )


# --- Reading the file --------------------------------------------------------------------------------


def read_extract(raw: bytes) -> bytes:
    """The extract's bytes: `raw` itself, or its decompressed content when it is gzip (a `.gz` file)."""
    if raw.startswith(b"PK\x03\x04"):
        raise FinessImportRefused(
            [LineError(None, "Archive ZIP : décompressez-la et importez le fichier CSV qu'elle contient (ou un .gz).")]
        )
    if not raw.startswith(b"\x1f\x8b"):
        return raw
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        content = decompressor.decompress(raw, MAX_CONTENT_SIZE + 1)
    except zlib.error as error:
        raise FinessImportRefused([LineError(None, f"Archive .gz illisible ({error}).")]) from error
    if len(content) > MAX_CONTENT_SIZE:
        limit = MAX_CONTENT_SIZE // (1024 * 1024)
        raise FinessImportRefused([LineError(None, f"Une fois décompressé, le fichier dépasse {limit} Mo.")])
    if not decompressor.eof:
        raise FinessImportRefused([LineError(None, "Archive .gz tronquée : le fichier est incomplet.")])
    return content


@dataclass(slots=True)
class EtRecord:
    """An ET as a `structureet` line gives it."""

    line: int
    finess: str
    ej_finess: str
    name: str
    address: str
    postcode: str
    city: str
    phone: str
    department: str
    region: RegionInfo

    def values(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in ET_FIELDS}


@dataclass
class ParsedExtract:
    """A well-formed extract: its ET in file order (once each), grouped by EJ."""

    sha256: str
    lines: int
    establishments: list[EtRecord]
    skipped: Counter
    warnings: list[LineError]

    @cached_property
    def by_ej(self) -> dict[str, list[EtRecord]]:
        groups: dict[str, list[EtRecord]] = {}
        for record in self.establishments:
            groups.setdefault(record.ej_finess, []).append(record)
        return groups


def _word_around(text: str, position: int) -> str:
    start = max(text.rfind(" ", 0, position), text.rfind(";", 0, position)) + 1
    ends = [end for end in (text.find(" ", position), text.find(";", position)) if end != -1]
    return text[start : min(ends) if ends else len(text)][:40]


def _decode(raw: bytes, number: int) -> tuple[str | None, str | None]:
    """The line's text, or None and the reason it is not ISO-8859-1 text."""
    if number == 1 and raw.startswith(codecs.BOM_UTF8):
        return None, "marque d'ordre des octets (BOM) UTF-8 : fichier encodé en UTF-8, attendu ISO-8859-1"
    if not raw.isascii():
        try:
            as_utf8 = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            position = next(index for index, char in enumerate(as_utf8) if ord(char) > 127)
            return None, (
                f"texte encodé en UTF-8 (« {_word_around(as_utf8, position)} »), attendu ISO-8859-1 : "
                "réenregistrez le fichier en ISO-8859-1 (Latin-1)"
            )
    text = raw.decode("iso-8859-1")
    if "\t" in text and ";" not in text:
        return None, "champs séparés par des tabulations : attendu des points-virgules"
    control = _CONTROL_RE.search(text)
    if control:
        code = ord(control.group())
        hint = " (fichier en Windows-1252 ?)" if 0x80 <= code <= 0x9F else ""
        return None, (
            f"caractère de contrôle 0x{code:02X} au caractère {control.start() + 1} : "
            f"texte illisible en ISO-8859-1{hint}"
        )
    return text, None


def _address(values: list[str]) -> str:
    number = " ".join(part for part in (values[_INDEX["numvoie"]], values[_INDEX["compvoie"]]) if part)
    street = " ".join(part for part in (number, values[_INDEX["typvoie"]], values[_INDEX["voie"]]) if part)
    return street or values[_INDEX["lieuditbp"]]


def _postcode_and_city(routing: str) -> tuple[str, str]:
    match = _POSTAL_RE.fullmatch(routing)
    if match is None:
        return "", routing
    return match.group(1), match.group(2) or ""


def _structureet(values: list[str], number: int) -> tuple[EtRecord | None, list[str]]:
    """The ET of a 32-field line, or the reasons it is bad."""
    reasons = []
    et_finess, ej_finess = values[_INDEX["nofinesset"]], values[_INDEX["nofinessej"]]
    for label, value in (("nofinesset", et_finess), ("nofinessej", ej_finess)):
        if not _FINESS_RE.match(value):
            shown = f"« {value} »" if value else "vide"
            reasons.append(
                f"numéro FINESS {label} invalide ({shown}) : 9 caractères, des chiffres sauf le deuxième "
                "qui peut être une lettre (2A, 2B)"
            )
    department = values[_INDEX["departement"]]
    region = region_of_department(department) if department else None
    if region is None:
        reasons.append(f"département inconnu (« {department} »)" if department else "département vide")
    name = values[_INDEX["rslongue"]] or values[_INDEX["rs"]]
    if not name:
        reasons.append("raison sociale vide (rs et rslongue)")
    postcode, city = _postcode_and_city(values[_INDEX["ligneacheminement"]])
    record_values = {
        "name": name,
        "address": _address(values),
        "postcode": postcode,
        "city": city,
        "phone": values[_INDEX["telephone"]],
    }
    for key, value in record_values.items():
        label, max_length = _MAX_LENGTHS[key]
        if len(value) > max_length:
            reasons.append(f"{label} trop long(ue) : {len(value)} caractères, {max_length} au plus")
    if reasons:
        return None, reasons
    return (
        EtRecord(
            line=number,
            finess=et_finess,
            ej_finess=ej_finess,
            department=normalize_department(department),
            region=region,
            **record_values,
        ),
        [],
    )


def parse_extract(content: bytes, *, progress: Progress = _no_progress) -> ParsedExtract:
    """Check the whole extract and read its ET; raise FinessImportRefused listing every bad line."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or content[:200].count(b"\x00") > 20:
        raise FinessImportRefused([LineError(None, "Le fichier est encodé en UTF-16, attendu ISO-8859-1.")])
    errors: list[LineError] = []
    if not content.isascii():
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            errors.append(
                LineError(
                    None,
                    "Le fichier est encodé en UTF-8, attendu ISO-8859-1 : réenregistrez-le en ISO-8859-1 "
                    "(Latin-1), l'encodage du fichier publié.",
                )
            )
    raw_lines = content.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # what follows the final newline
    last = max((index for index, raw in enumerate(raw_lines, start=1) if raw.strip()), default=0)
    records: dict[str, EtRecord] = {}
    skipped: Counter = Counter()
    widths: dict[str, tuple[int, int]] = {}  # skipped record type -> (field count, first line)
    warnings: list[LineError] = []
    ej_seen: set[str] = set()
    for number, raw in enumerate(progress(raw_lines, total=len(raw_lines), label="Lecture"), start=1):
        raw = raw.removesuffix(b"\r")
        if not raw.strip():
            skipped["lignes vides"] += 1
            continue
        text, reason = _decode(raw, number)
        if text is None:
            errors.append(LineError(number, reason))
            continue
        fields = [value.strip() for value in text.split(";")]
        kind = fields[0]
        if kind != "structureet":
            if number == 1 and kind == "finess":
                skipped["ligne de commentaire (finess;etalab;…)"] += 1
            elif not _RECORD_TYPE_RE.fullmatch(kind):
                errors.append(
                    LineError(number, f"type d'enregistrement inconnu (« {kind[:30]} ») : attendu structureet")
                )
            else:
                width, first = widths.setdefault(kind, (len(fields), number))
                if number == last and len(fields) < width:
                    errors.append(
                        LineError(
                            number,
                            f"fichier tronqué : la dernière ligne ({kind}) n'a que {len(fields)} champs, "
                            f"{width} comme la ligne {first}",
                        )
                    )
                else:
                    skipped[f"lignes {kind}"] += 1
            continue
        if len(fields) != FIELD_COUNT:
            if number == last and len(fields) < FIELD_COUNT:
                reason = f"fichier tronqué : la dernière ligne n'a que {len(fields)} champs sur {FIELD_COUNT}"
            elif len(fields) > FIELD_COUNT:
                reason = f"{len(fields)} champs au lieu de {FIELD_COUNT} (un point-virgule dans un champ ?)"
            else:
                reason = f"{len(fields)} champs au lieu de {FIELD_COUNT}"
            errors.append(LineError(number, reason))
            continue
        record, reasons = _structureet(fields, number)
        if record is None:
            errors.append(LineError(number, " ; ".join(reasons)))
            continue
        previous = records.get(record.finess)
        if previous is not None:
            if previous.ej_finess != record.ej_finess:
                errors.append(
                    LineError(
                        number,
                        f"l'ET {record.finess} est déjà listé ligne {previous.line} avec l'EJ {previous.ej_finess}, "
                        f"ici avec l'EJ {record.ej_finess}",
                    )
                )
            elif previous.values() != record.values() or previous.department != record.department:
                errors.append(
                    LineError(
                        number, f"l'ET {record.finess} est déjà listé ligne {previous.line}, avec d'autres données"
                    )
                )
            else:
                skipped["doublons identiques"] += 1
            continue
        records[record.finess] = record
        checked = [("géographique", record.finess)]
        if record.ej_finess not in ej_seen:
            ej_seen.add(record.ej_finess)
            checked.append(("juridique", record.ej_finess))
        for label, value in checked:
            if finess_luhn_ok(value) is False:
                warnings.append(
                    LineError(
                        number, f"la clé du numéro FINESS {label} {value} semble incorrecte (importé tout de même)"
                    )
                )
    if not records and not errors:
        errors.append(
            LineError(
                None,
                "Aucune ligne « structureet » : ce fichier n'est pas l'extraction FINESS des établissements "
                "(fichier etalab, séparé par des points-virgules).",
            )
        )
    if errors:
        raise FinessImportRefused(errors)
    return ParsedExtract(
        sha256=hashlib.sha256(content).hexdigest(),
        lines=len(raw_lines),
        establishments=list(records.values()),
        skipped=skipped,
        warnings=warnings,
    )


# --- The plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str  # its label, in French
    old: str
    new: str

    def __str__(self):
        return f"{self.field} : « {self.old} » → « {self.new} »"


@dataclass
class PlannedEJ:
    finess: str
    name: str
    region: RegionInfo
    line: int  # the line of its reference ET
    address: str = ""
    postcode: str = ""
    city: str = ""
    phone: str = ""
    pk: int | None = None
    changes: list[Change] = field(default_factory=list)


@dataclass
class PlannedET:
    record: EtRecord
    pk: int | None = None
    changes: list[Change] = field(default_factory=list)
    moved_from: str = ""  # the FINESS of its former EJ, when it moves

    @property
    def finess(self):
        return self.record.finess

    @property
    def name(self):
        return self.record.name


@dataclass
class ImportPlan:
    sha256: str
    lines: int
    skipped: Counter
    regions_to_create: list[RegionInfo] = field(default_factory=list)
    ej_to_create: list[PlannedEJ] = field(default_factory=list)
    ej_to_update: list[PlannedEJ] = field(default_factory=list)
    ej_unchanged: int = 0
    et_to_create: list[PlannedET] = field(default_factory=list)
    et_to_update: list[PlannedET] = field(default_factory=list)
    et_unchanged: int = 0
    warnings: list[LineError] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(
            self.regions_to_create or self.ej_to_create or self.ej_to_update or self.et_to_create or self.et_to_update
        )

    @property
    def et_moved(self) -> int:
        return sum(1 for planned in self.et_to_update if planned.moved_from)

    def counts(self, *, done: bool = False) -> dict[str, int]:
        """The plan's figures, labelled in French: what it would do, or (`done`) what it did."""
        return {
            ("régions créées" if done else "régions à créer"): len(self.regions_to_create),
            ("EJ créées" if done else "EJ à créer"): len(self.ej_to_create),
            ("EJ mises à jour" if done else "EJ à mettre à jour"): len(self.ej_to_update),
            "EJ inchangées": self.ej_unchanged,
            ("ET créés" if done else "ET à créer"): len(self.et_to_create),
            ("ET mis à jour" if done else "ET à mettre à jour"): len(self.et_to_update),
            "dont ET changeant d'EJ": self.et_moved,
            "ET inchangés": self.et_unchanged,
            "lignes ignorées": sum(self.skipped.values()),
        }

    @property
    def digest(self) -> str:
        """A fingerprint of what the plan writes: a confirmation applies exactly the plan previewed."""
        payload = {
            "sha256": self.sha256,
            "regions": [info.code for info in self.regions_to_create],
            "ej_create": [(ej.finess, ej.name, ej.region.code) for ej in self.ej_to_create],
            "ej_update": [(ej.finess, [str(change) for change in ej.changes]) for ej in self.ej_to_update],
            "et_create": [(et.finess, et.record.ej_finess) for et in self.et_to_create],
            "et_update": [(et.finess, [str(change) for change in et.changes]) for et in self.et_to_update],
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rows_by_finess(queryset, numbers: list[str], *fields: str) -> dict[str, dict]:
    """The rows (`fields`) of `queryset` whose FINESS is in `numbers`, by FINESS: looked up by chunks for a
    small file, read whole in one query for a big one (cheaper than long IN lists)."""
    if len(numbers) > FULL_SCAN_FROM:
        wanted = set(numbers)
        return {row["finess"]: row for row in queryset.values("finess", *fields) if row["finess"] in wanted}
    found = {}
    for chunk in _chunks(numbers, LOOKUP_CHUNK):
        found.update((row["finess"], row) for row in queryset.filter(finess__in=chunk).values("finess", *fields))
    return found


def compute_plan(parsed: ParsedExtract) -> ImportPlan:
    """What importing `parsed` would create and change, compared with the database (read only)."""
    plan = ImportPlan(sha256=parsed.sha256, lines=parsed.lines, skipped=parsed.skipped, warnings=list(parsed.warnings))
    regions = {region.code: region for region in Region.objects.all()}
    region_names = {region.name: region for region in regions.values()}
    region_codes_by_id = {region.pk: code for code, region in regions.items()}
    needed = {record.region.code: record.region for record in parsed.establishments}
    conflicts = []
    for code, info in sorted(needed.items()):
        if code in regions:
            continue
        homonym = region_names.get(info.name)
        if homonym is not None:
            conflicts.append(
                LineError(
                    None,
                    f"La région « {info.name} » existe avec le code {homonym.code} au lieu du code officiel "
                    f"{info.code} : corrigez son code dans l'administration avant l'import.",
                )
            )
        plan.regions_to_create.append(info)
    if conflicts:
        raise FinessImportRefused(conflicts)

    groups = parsed.by_ej
    existing_ej = _rows_by_finess(EntiteJuridique.objects.all(), list(groups), "pk", "name", "region_id")
    for ej_finess, ets in groups.items():
        reference = ets[0]
        spread = sorted({record.region.name for record in ets})
        if len(spread) > 1:
            plan.warnings.append(
                LineError(
                    reference.line,
                    f"l'EJ {ej_finess} a des établissements dans plusieurs régions ({', '.join(spread)}) : "
                    f"elle est rattachée à la région {reference.region.name}, celle de son premier établissement",
                )
            )
        row = existing_ej.get(ej_finess)
        if row is None:
            plan.ej_to_create.append(
                PlannedEJ(
                    finess=ej_finess,
                    name=reference.name,
                    region=reference.region,
                    line=reference.line,
                    address=reference.address,
                    postcode=reference.postcode,
                    city=reference.city,
                    phone=reference.phone,
                )
            )
            continue
        current_code = region_codes_by_id.get(row["region_id"])
        if current_code == reference.region.code:
            plan.ej_unchanged += 1
            continue
        current_name = regions[current_code].name if current_code else ""
        plan.ej_to_update.append(
            PlannedEJ(
                finess=ej_finess,
                name=row["name"],
                region=reference.region,
                line=reference.line,
                pk=row["pk"],
                changes=[Change("région", current_name, reference.region.name)],
            )
        )
    existing_et = _rows_by_finess(
        Etablissement.objects.all(),
        [record.finess for record in parsed.establishments],
        "pk",
        "ej__finess",
        *ET_FIELDS,
    )
    for record in parsed.establishments:
        row = existing_et.get(record.finess)
        if row is None:
            plan.et_to_create.append(PlannedET(record=record))
            continue
        changes = [
            Change(FIELD_LABELS[key], row[key], value) for key, value in record.values().items() if row[key] != value
        ]
        moved_from = ""
        if row["ej__finess"] != record.ej_finess:
            moved_from = row["ej__finess"]
            changes.append(Change("EJ", row["ej__finess"], record.ej_finess))
        if changes:
            plan.et_to_update.append(PlannedET(record=record, pk=row["pk"], changes=changes, moved_from=moved_from))
        else:
            plan.et_unchanged += 1
    _warn_about_moved_contracts(plan)
    return plan


def _warn_about_moved_contracts(plan: ImportPlan) -> None:
    """An ET leaving its EJ may still be covered by a contract of that EJ: the agent must review it."""
    moved = {planned.pk: planned for planned in plan.et_to_update if planned.moved_from}
    if not moved:
        return
    through = Contract.etablissements.through
    for chunk in _chunks(list(moved), LOOKUP_CHUNK):
        links = through.objects.filter(etablissement_id__in=chunk).values_list(
            "etablissement_id", "contract__name", "contract__ej__finess"
        )
        for et_pk, contract_name, ej_finess in links.order_by("etablissement_id", "contract__name"):
            planned = moved[et_pk]
            if ej_finess == planned.moved_from:
                plan.warnings.append(
                    LineError(
                        planned.record.line,
                        f"l'ET {planned.finess} passe de l'EJ {planned.moved_from} à l'EJ {planned.record.ej_finess} "
                        f"mais reste couvert par le contrat « {contract_name} » de l'EJ {ej_finess} : "
                        "revoyez ce contrat",
                    )
                )


# --- Applying it -------------------------------------------------------------------------------------


def apply_import(
    parsed: ParsedExtract,
    *,
    acting_user=None,
    context: RequestContext | None = None,
    expected_digest: str | None = None,
    source: str = "commande",
    file_name: str = "",
    progress: Progress = _no_progress,
) -> ImportPlan:
    """Write the plan of `parsed` in one transaction, with one audit event, and return it.

    The plan is recomputed under a lock; with `expected_digest` (the previewed plan's), a plan that differs
    raises PlanChanged and nothing is written.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":  # SQLite (the demo) writes one transaction at a time anyway
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        plan = compute_plan(parsed)
        if expected_digest is not None and plan.digest != expected_digest:
            raise PlanChanged
        _write(plan, parsed, progress)
        record_event(
            EventType.COMMAND_RUN,
            actor=acting_user,
            context=context,
            data={
                "operation": "import_finess",
                "source": source,
                "file_name": file_name,
                "sha256": plan.sha256,
                "lines": plan.lines,
                "regions_created": len(plan.regions_to_create),
                "ej_created": len(plan.ej_to_create),
                "ej_updated": len(plan.ej_to_update),
                "ej_unchanged": plan.ej_unchanged,
                "et_created": len(plan.et_to_create),
                "et_updated": len(plan.et_to_update),
                "et_moved": plan.et_moved,
                "et_unchanged": plan.et_unchanged,
                "lines_skipped": sum(plan.skipped.values()),
            },
        )
    return plan


def _write(plan: ImportPlan, parsed: ParsedExtract, progress: Progress) -> None:
    for info in plan.regions_to_create:
        Region.objects.create(code=info.code, name=info.name, agency_name=info.agency_name)
    region_ids = dict(Region.objects.values_list("code", "pk"))
    now = timezone.now()
    steps: list[Callable[[], None]] = []

    def create_ejs(batch):
        EntiteJuridique.objects.bulk_create(
            [
                EntiteJuridique(
                    finess=planned.finess,
                    name=planned.name,
                    address=planned.address,
                    postcode=planned.postcode,
                    city=planned.city,
                    phone=planned.phone,
                    region_id=region_ids[planned.region.code],
                )
                for planned in batch
            ]
        )

    def update_ejs(batch):
        EntiteJuridique.objects.bulk_update(
            [
                EntiteJuridique(pk=planned.pk, region_id=region_ids[planned.region.code], updated_at=now)
                for planned in batch
            ],
            ["region", "updated_at"],
        )

    ej_ids: dict[str, int] = {}

    def load_ej_ids():
        rows = _rows_by_finess(EntiteJuridique.objects.all(), list(parsed.by_ej), "pk")
        ej_ids.update((number, row["pk"]) for number, row in rows.items())

    def create_ets(batch):
        Etablissement.objects.bulk_create(
            [
                Etablissement(finess=planned.finess, ej_id=ej_ids[planned.record.ej_finess], **planned.record.values())
                for planned in batch
            ]
        )

    def update_ets(batch):
        Etablissement.objects.bulk_update(
            [
                Etablissement(pk=planned.pk, ej_id=ej_ids[planned.record.ej_finess], **planned.record.values())
                for planned in batch
            ],
            [*ET_FIELDS, "ej"],
        )

    for batch in _chunks(plan.ej_to_create, BATCH_SIZE):
        steps.append(lambda batch=batch: create_ejs(batch))
    for batch in _chunks(plan.ej_to_update, BATCH_SIZE):
        steps.append(lambda batch=batch: update_ejs(batch))
    steps.append(load_ej_ids)
    for batch in _chunks(plan.et_to_create, BATCH_SIZE):
        steps.append(lambda batch=batch: create_ets(batch))
    for batch in _chunks(plan.et_to_update, BATCH_SIZE):
        steps.append(lambda batch=batch: update_ets(batch))
    for step in progress(steps, total=len(steps), label="Écriture"):
        step()
