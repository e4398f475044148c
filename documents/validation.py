"""Validation of uploaded documents (SECURITY.md E1–E5): name, size, content, archives, macros.

Pure: nothing is stored and nothing is extracted. `validate_upload` reads the file once, in chunks
(constant memory: the first megabyte for libmagic, the last kilobyte for the PDF trailer, a SHA-256),
then checks the structure of the formats that have one: the entries of ZIP archives and of OOXML and
OpenDocument files (their central directory, then each entry decompressed in bounded chunks, never
written anywhere), the header of images through Pillow. The client's content type is never read.

The content must be what the extension says, decided from the bytes: libmagic's MIME type must be
one that `MIME_TYPES` lists for the extension (the strings of Debian 12's libmagic 5.44, kept under
test: they differ between libmagic versions), and the structural check of the extension must pass.
Executables are refused whatever their name, and so are programs and scripts inside an archive.
Macro-capable content is flagged, not refused (« contient des macros », SECURITY.md §0.6 and E5).
"""

import bz2
import hashlib
import re
import stat
import struct
import unicodedata
import warnings
import zipfile
import zlib
from dataclasses import dataclass

import magic
from PIL import Image


MO = 1024 * 1024  # the « Mo » of the rule and of every size shown to users
MAX_SIZE = 20 * MO  # « 20 Mo maximum », stated in the UI
MAX_SIZE_LABEL = "20 Mo"
# The manual's list, in its order: « txt, xls, xlsx, xlm, xlsm, doc, docx, pdf, ppt, pptx, zip, jpg, jpeg, tiff,
# gif, odt, odp, ods, odf, dot, et dotx. Limité à 20 MO maximum. »
ALLOWED_EXTENSIONS = tuple(
    "txt xls xlsx xlm xlsm doc docx pdf ppt pptx zip jpg jpeg tiff gif odt odp ods odf dot dotx".split()
)
ACCEPT_ATTRIBUTE = ",".join(f".{extension}" for extension in ALLOWED_EXTENSIONS)
ACCEPTED_FORMATS = ", ".join(ALLOWED_EXTENSIONS)

MAX_NAME_LENGTH = 200

# ZIP-based files (SECURITY.md E4): .zip archives, and the OOXML and OpenDocument documents, which are
# ZIP containers too and get the same rules. Sizes and ratios are first read from the central directory,
# then checked against the real bytes: every entry is decompressed, in chunks, and must be exactly as
# large as declared (see `_check_entries`).
ZIP_MAX_ENTRIES = 1000
# The most bytes decompressed for one upload, and so its cost: about 0.3 s of one core for 200 Mo of
# Deflate (zlib 1.2.13 here, CRC included), constant memory. It keeps room for real documents (a 20 Mo
# workbook of figures holds about 150 Mo of XML: ratio 7 to 8), and the ratio rule below means that
# reaching it takes at least 2 Mo of upload, which arrives over the network more slowly than it is
# checked. Should uploads ever saturate the CPU on deadline day, this is the limit to lower.
ZIP_MAX_TOTAL_SIZE = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
# Deflate legitimately packs a small run of blanks (an empty CSV column, a padded text) far beyond
# 100:1, and a small entry cannot be a bomb by itself (the total size bounds them all): the ratio
# rule applies to entries, and to the whole, of at least this uncompressed size.
ZIP_RATIO_MIN_SIZE = 1024 * 1024
# A document has more parts than an archive has files (a presentation: one per slide, image, layout…).
CONTAINER_MAX_ENTRIES = 10_000
# The central directory is read whole by `zipfile`: 4 Mo is far above any real one (≈ 100 bytes an entry).
ZIP_MAX_DIRECTORY_SIZE = 4 * 1024 * 1024

CHUNK_SIZE = 64 * 1024  # a multiple of 128 (an OLE2 directory entry): see `_ole_stream_names`
HEAD_SIZE = 1024 * 1024  # what libmagic is given: enough for Office containers (STACK-NOTES trap 10)
PDF_TRAILER_WINDOW = 1024  # « %%EOF » must be within the last 1024 bytes (PDF 1.7, annex H, note 18)
TEXT_SNIFF_SIZE = 4096  # libmagic looks for HTML markers in the first 4 KiB too

OLE_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
PDF_SIGNATURE = b"%PDF-"
# BOF records of the BIFF2, BIFF3 and BIFF4 formats that predate OLE2 (Excel 2 to 4): an Excel 4
# macro sheet (.xlm) is one of these.
BIFF_SIGNATURES = (b"\x09\x00", b"\x09\x02", b"\x09\x04")
EXECUTABLE_SIGNATURES = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O 32 bits
    b"\xfe\xed\xfa\xcf",  # Mach-O 64 bits
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal binary, or a Java class
)
EXECUTABLE_MIME_TYPES = frozenset(
    {
        "application/x-dosexec",
        "application/x-msdownload",
        "application/vnd.microsoft.portable-executable",
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/x-elf",
        "application/x-java-applet",
        "application/java-vm",
        "application/x-msi",
        "application/vnd.ms-msi",
    }
)
# Markers of a web page or a script, searched case-insensitively: in the whole of an image (an image
# that is also an HTML page, the polyglot of Django's security topic) and in the start of a text.
HTML_MARKERS = (b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<!doctype", b"<?php")
# Types that a browser would render or run, refused as text.
REFUSED_TEXT_MIME_TYPES = frozenset(
    {"text/html", "text/x-php", "text/javascript", "text/ecmascript", "image/svg+xml", "application/xhtml+xml"}
)
# OLE2 directory entries of a VBA project (MS-OVBA 2.2): `Macros` (Word 97–2003), `_VBA_PROJECT_CUR`
# (Excel 97–2003), `VBA` and `_VBA_PROJECT` (every project). PowerPoint 97–2003 keeps its project
# inside the « PowerPoint Document » stream: a .ppt with macros is not detected (olevba would).
VBA_STREAM_NAMES = ("Macros", "_VBA_PROJECT_CUR", "_VBA_PROJECT", "VBA")
ENCRYPTED_OOXML_STREAM_NAMES = ("EncryptedPackage",)
WINDOWS_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{device}{number}" for device in ("com", "lpt") for number in (*"123456789", "¹", "²", "³")}
)
# Characters Windows does not allow in a file name: replaced, so that the name is safe to offer for
# download anywhere (« / » and « \ » never reach this point).
WINDOWS_FORBIDDEN_CHARACTERS = re.compile(r'[<>:"|?*]')

_GENERIC_OLE = frozenset({"application/x-ole-storage", "application/CDFV2", "application/vnd.ms-office"})
_WORD_OOXML = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
        "application/vnd.ms-word.document.macroEnabled.12",
        "application/vnd.ms-word.template.macroEnabled.12",
        "application/zip",
    }
)
_EXCEL_OOXML = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
        "application/vnd.ms-excel.sheet.macroEnabled.12",
        "application/vnd.ms-excel.template.macroEnabled.12",
        "application/zip",
    }
)
_POWERPOINT_OOXML = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
        "application/vnd.openxmlformats-officedocument.presentationml.template",
        "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
        "application/zip",
    }
)
_ODF_MIME_TYPES = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "odf": "application/vnd.oasis.opendocument.formula",
}

# What libmagic may answer for each extension (text files: any text/* type but the refused ones).
MIME_TYPES = {
    "pdf": frozenset({"application/pdf"}),
    "jpg": frozenset({"image/jpeg"}),
    "jpeg": frozenset({"image/jpeg"}),
    "gif": frozenset({"image/gif"}),
    "tiff": frozenset({"image/tiff"}),
    "doc": _GENERIC_OLE | {"application/msword"},
    "dot": _GENERIC_OLE | {"application/msword"},
    "xls": _GENERIC_OLE | {"application/vnd.ms-excel"},
    "xlm": _GENERIC_OLE | {"application/vnd.ms-excel"},
    "ppt": _GENERIC_OLE | {"application/vnd.ms-powerpoint"},
    "docx": _WORD_OOXML,
    "dotx": _WORD_OOXML,
    "xlsx": _EXCEL_OOXML,
    "xlsm": _EXCEL_OOXML,
    "pptx": _POWERPOINT_OOXML,
    **{extension: frozenset({mime_type, "application/zip"}) for extension, mime_type in _ODF_MIME_TYPES.items()},
    "zip": frozenset(
        {"application/zip", "application/x-zip-compressed"} | _WORD_OOXML | _EXCEL_OOXML | _POWERPOINT_OOXML
    )
    | frozenset(_ODF_MIME_TYPES.values()),
}

# The part that makes an OOXML package a document of its kind (ECMA-376 part 1, 11.3.10, 12.3.23, 13.3.6).
OOXML_MAIN_PARTS = {
    "docx": "word/document.xml",
    "dotx": "word/document.xml",
    "xlsx": "xl/workbook.xml",
    "xlsm": "xl/workbook.xml",
    "pptx": "ppt/presentation.xml",
}
IMAGE_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "gif": "GIF", "tiff": "TIFF"}
OLE_EXTENSIONS = frozenset({"doc", "dot", "xls", "xlm", "ppt"})
ALWAYS_MACROS = frozenset({"xlsm", "xlm"})

# « son contenu n'est pas celui … »
CONTENT_LABELS = {
    "txt": "d'un fichier texte",
    "pdf": "d'un PDF",
    "doc": "d'un document Word (.doc)",
    "dot": "d'un modèle Word (.dot)",
    "docx": "d'un document Word (.docx)",
    "dotx": "d'un modèle Word (.dotx)",
    "xls": "d'un classeur Excel (.xls)",
    "xlm": "d'une feuille de macros Excel (.xlm)",
    "xlsx": "d'un classeur Excel (.xlsx)",
    "xlsm": "d'un classeur Excel avec macros (.xlsm)",
    "ppt": "d'une présentation PowerPoint (.ppt)",
    "pptx": "d'une présentation PowerPoint (.pptx)",
    "odt": "d'un texte OpenDocument (.odt)",
    "ods": "d'un classeur OpenDocument (.ods)",
    "odp": "d'une présentation OpenDocument (.odp)",
    "odf": "d'une formule OpenDocument (.odf)",
    "zip": "d'une archive ZIP",
    "jpg": "d'une image JPEG",
    "jpeg": "d'une image JPEG",
    "gif": "d'une image GIF",
    "tiff": "d'une image TIFF",
}


class UploadRefused(Exception):
    """The file is refused; `str(exc)` is a clear French message naming the file and the reason.

    `name` is the file's name as shown, `reason` the reason alone (to compose another sentence) and
    `code` a stable identifier of the rule (for logs and tests).
    """

    def __init__(self, name, reason, code):
        self.name = name
        self.reason = reason
        self.code = code
        if name:
            super().__init__(f"« {name} » est refusé : {reason}.")
        else:
            super().__init__(f"Le fichier est refusé : {reason}.")


@dataclass(frozen=True)
class ValidatedUpload:
    name: str  # the sanitised original name to keep as metadata (never used as a storage key)
    extension: str  # lowercase, without the dot
    size: int
    sha256: str  # hex, of the exact bytes
    mime_type: str  # as detected by libmagic
    has_macros: bool  # « contient des macros »


def validate_upload(uploaded_file) -> ValidatedUpload:
    """Check a Django UploadedFile (in memory or spooled to disk) without storing anything; read it in
    chunks (constant memory) and leave it rewound (seek(0)) for the caller to store. Raise UploadRefused."""
    name, extension = clean_name(getattr(uploaded_file, "name", None) or "")
    shown = _shown(name)
    announced_size = getattr(uploaded_file, "size", None)
    if announced_size is not None and announced_size > MAX_SIZE:
        raise _too_large(shown, announced_size)
    if announced_size == 0:
        raise UploadRefused(shown, "c'est un fichier vide (0 octet)", "empty")
    try:
        uploaded_file.seek(0)
        read = _read(
            uploaded_file,
            shown,
            html_markers=extension in IMAGE_FORMATS,
            ole_names=extension in OLE_EXTENSIONS or extension in OOXML_MAIN_PARTS,
        )
        try:
            mime_type = magic.from_buffer(read.head, mime=True)
        except magic.MagicException:
            raise UploadRefused(shown, "son type n'a pas pu être déterminé", "undetermined") from None
        if _is_executable(read.head, mime_type):
            raise UploadRefused(shown, "son contenu est un programme exécutable", "executable")
        has_macros = _check_content(uploaded_file, shown, extension, read, mime_type)
    finally:
        uploaded_file.seek(0)
    return ValidatedUpload(
        name=name,
        extension=extension,
        size=read.size,
        sha256=read.sha256,
        mime_type=mime_type,
        has_macros=has_macros or extension in ALWAYS_MACROS,
    )


# --- the name -----------------------------------------------------------------------------------------


def clean_name(raw_name):
    """Return (the name to keep, its lowercase extension), or raise UploadRefused.

    Directories are dropped (an old browser may send « C:\\Users\\…\\rapport.pdf »), but a « .. »
    component is refused: no browser sends one.
    """
    name = unicodedata.normalize("NFC", str(raw_name))
    shown = _shown(name)
    if "\x00" in name or "%00" in name:
        raise UploadRefused(shown, "le nom contient un caractère nul (« %00 »)", "nul_in_name")
    if any(unicodedata.category(character) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for character in name):
        raise UploadRefused(shown, "le nom contient un caractère de contrôle ou invisible", "control_in_name")
    *directories, name = re.split(r"[/\\]", name)
    if ".." in (part.strip() for part in (*directories, name)):
        raise UploadRefused(shown, "le nom contient un chemin de dossier (« .. »)", "path_in_name")
    name = name.strip()
    if not name:
        raise UploadRefused("", "il n'a pas de nom", "empty_name")
    if len(name) > MAX_NAME_LENGTH:
        raise UploadRefused(
            _shown(name), f"le nom est trop long ({MAX_NAME_LENGTH} caractères au maximum)", "name_too_long"
        )
    shown = _shown(name)
    stem, dot, extension = name.rpartition(".")
    if not dot or not extension.strip():
        raise UploadRefused(
            shown, f"le nom n'a pas d'extension (formats acceptés : {ACCEPTED_FORMATS})", "no_extension"
        )
    extension = extension.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise UploadRefused(
            shown,
            f"le format .{_shown(extension, 20)} n'est pas accepté (formats acceptés : {ACCEPTED_FORMATS})",
            "extension_refused",
        )
    if not stem.strip(" ."):
        raise UploadRefused(shown, "le nom se réduit à son extension", "empty_name")
    # Windows ignores what follows the first dot, and trailing spaces, in a device name.
    device = stem.split(".")[0].rstrip(" ").lower()
    if device in WINDOWS_RESERVED_NAMES:
        raise UploadRefused(shown, f"« {device.upper()} » est un nom réservé par Windows", "reserved_name")
    return WINDOWS_FORBIDDEN_CHARACTERS.sub("_", name), extension


def size_in_mo(size: int) -> str:
    """A size as users read it, in the unit of the « 20 Mo maximum » rule: « 1,2 Mo », « 0,1 Mo », « 20 Mo ».

    Rounded up to a tenth, so that a file is never shown smaller than it is: one byte over the limit reads
    « 20,1 Mo », never « 20 Mo », and a small file « 0,1 Mo », never « 0 Mo ».
    """
    tenths = -(-size * 10 // MO)  # ceiling, in integers
    units, tenth = divmod(tenths, 10)
    return f"{units} Mo" if tenth == 0 else f"{units},{tenth} Mo"


def _too_large(name, size=None):
    """Refused for its size; `size` (the bytes the browser sent, when known) is shown in Mo."""
    if size is None:
        return UploadRefused(name, f"il dépasse {MAX_SIZE_LABEL} ({MAX_SIZE_LABEL} maximum par fichier)", "too_large")
    return UploadRefused(name, f"il fait {size_in_mo(size)} ({MAX_SIZE_LABEL} maximum par fichier)", "too_large")


def _shown(name, length=80):
    """The name as it may be shown in a message: no invisible character, shortened in the middle."""
    name = "".join(
        "�" if unicodedata.category(character) in {"Cc", "Cf", "Cs", "Zl", "Zp"} else character for character in name
    )
    if len(name) > length:
        name = f"{name[: length - 16]}…{name[-15:]}"
    return name


# --- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    size: int
    sha256: str
    head: bytes  # the first HEAD_SIZE bytes
    tail: bytes  # the last PDF_TRAILER_WINDOW bytes
    html_marker: bytes | None  # the first HTML marker found anywhere
    ole_names: frozenset  # VBA_STREAM_NAMES and ENCRYPTED_OOXML_STREAM_NAMES found as directory entries


def _chunks(file):
    """Full CHUNK_SIZE chunks (the last may be shorter), whatever the reads return."""
    pending = b""
    while True:
        data = file.read(CHUNK_SIZE - len(pending))
        if not data:
            if pending:
                yield pending
            return
        pending += data
        if len(pending) == CHUNK_SIZE:
            yield pending
            pending = b""


def _read(file, name, *, html_markers, ole_names):
    """Read the file once: size, SHA-256, head and tail, and (if asked) the markers that need all the bytes.

    A file spooled by the upload handler was hashed as it arrived (`received_sha256`, documents.upload_handlers):
    unless a marker needs all its bytes, only its head and its tail are read."""
    received_sha256 = getattr(file, "received_sha256", None)
    if received_sha256 and not html_markers and not ole_names:
        return _read_ends(file, name, received_sha256)
    digest = hashlib.sha256()
    size = 0
    head = bytearray()
    tail = b""
    carry = b""  # the end of the previous chunk, lowercased: a marker may straddle two chunks
    html_marker = None
    found_names = set()
    overlap = max(len(marker) for marker in HTML_MARKERS) - 1
    for chunk in _chunks(file):
        position = size
        size += len(chunk)
        if size > MAX_SIZE:
            raise _too_large(name)
        digest.update(chunk)
        if len(head) < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - len(head)]
        tail = (tail + chunk[-PDF_TRAILER_WINDOW:])[-PDF_TRAILER_WINDOW:]  # not a copy of each whole chunk
        if html_markers and html_marker is None:
            window = carry + chunk.lower()
            html_marker = next((marker for marker in HTML_MARKERS if marker in window), None)
            carry = window[-overlap:]
        if ole_names:
            found_names.update(_ole_stream_names(chunk, position))
    if size == 0:
        raise UploadRefused(name, "c'est un fichier vide (0 octet)", "empty")
    return _Read(size, digest.hexdigest(), bytes(head), tail, html_marker, frozenset(found_names))


def _read_ends(file, name, sha256):
    """`_read` of a file whose SHA-256 is known: its size, head and tail, from its two ends."""
    size = file.seek(0, 2)
    if size > MAX_SIZE:
        raise _too_large(name)
    if size == 0:
        raise UploadRefused(name, "c'est un fichier vide (0 octet)", "empty")
    file.seek(max(0, size - PDF_TRAILER_WINDOW))
    tail = file.read(PDF_TRAILER_WINDOW)
    file.seek(0)
    head = file.read(HEAD_SIZE)
    return _Read(size, sha256, head, tail, None, frozenset())


def _ole_stream_names(chunk, position):
    """The names of VBA_STREAM_NAMES and ENCRYPTED_OOXML_STREAM_NAMES that are OLE2 directory entries.

    A heuristic that needs no parsing of the sector chains: a directory entry is 128 bytes, aligned on
    128 bytes in the file (sectors are 512 or 4096 bytes, after a header of the same size), and starts
    with its UTF-16LE name, NUL-terminated, whose length in bytes is repeated at offset 64. Chunks
    start at multiples of CHUNK_SIZE, itself a multiple of 128, so an entry never straddles two chunks.
    The same words in a document's text are neither aligned nor followed by that length.
    """
    found = set()
    for stream_name in (*VBA_STREAM_NAMES, *ENCRYPTED_OOXML_STREAM_NAMES):
        pattern = stream_name.encode("utf-16-le") + b"\0\0"
        start = chunk.find(pattern)
        while start != -1:
            if (position + start) % 128 == 0 and chunk[start + 64 : start + 66] == struct.pack("<H", len(pattern)):
                found.add(stream_name)
                break
            start = chunk.find(pattern, start + 1)
    return found


def _is_executable(head, mime_type):
    if mime_type in EXECUTABLE_MIME_TYPES or head.startswith(EXECUTABLE_SIGNATURES):
        return True
    # « MZ » starts every Windows program, and also a text that begins with these two letters.
    return head.startswith(b"MZ") and not mime_type.startswith("text/")


# --- the content --------------------------------------------------------------------------------------


def _check_content(file, name, extension, read, mime_type):
    """Raise UploadRefused unless the content is what the extension says; return « has macros »."""

    def mismatch():
        return UploadRefused(name, f"son contenu n'est pas celui {CONTENT_LABELS[extension]}", "content_mismatch")

    if extension == "txt":
        if mime_type in REFUSED_TEXT_MIME_TYPES or _looks_like_web_page(read.head):
            raise UploadRefused(
                name, "son contenu est une page web (HTML) ou un script, pas un simple texte", "html_in_text"
            )
        if not mime_type.startswith("text/"):
            raise mismatch()
        return False

    if mime_type not in MIME_TYPES[extension]:
        # A password-protected .docx/.xlsx/.pptx is an OLE2 file around an « EncryptedPackage » stream.
        if extension in OOXML_MAIN_PARTS and "EncryptedPackage" in read.ole_names:
            raise _encrypted_document(name)
        raise mismatch()

    if extension == "pdf":
        if not read.head.startswith(PDF_SIGNATURE):
            raise mismatch()
        if b"%%EOF" not in read.tail:
            raise UploadRefused(
                name, "le PDF est incomplet ou endommagé (la marque de fin « %%EOF » est absente)", "truncated_pdf"
            )
        return False

    if extension in IMAGE_FORMATS:
        if read.html_marker is not None:
            raise UploadRefused(name, "l'image contient du code de page web (HTML) ou un script", "html_in_image")
        _verify_image(file, name, IMAGE_FORMATS[extension])
        return False

    if extension in OLE_EXTENSIONS:
        if read.head.startswith(OLE_SIGNATURE):
            return bool(read.ole_names & set(VBA_STREAM_NAMES))
        if extension == "xlm" and read.head.startswith(BIFF_SIGNATURES):
            return True
        raise mismatch()

    # From here on, a ZIP: .zip, OOXML or OpenDocument. The rules of SECURITY.md E4 apply to all of them:
    # a .docx is as able as a .zip to carry a bomb or to lie in its central directory.
    if not read.head.startswith(ZIP_SIGNATURES):
        raise mismatch()
    is_archive = extension == "zip"
    archive, directory_start = _open_zip(file, name, read.size, is_archive=is_archive)
    with archive:
        entries = archive.infolist()
        names = {entry.filename for entry in entries}
        # The kind of the container first, from its names (and a few bytes): cheaper than decompressing.
        if extension in OOXML_MAIN_PARTS:
            if "[Content_Types].xml" not in names or OOXML_MAIN_PARTS[extension] not in names:
                raise mismatch()
        elif not is_archive and _odf_mime_type(archive) != _ODF_MIME_TYPES[extension]:
            raise mismatch()
        is_odf = extension in _ODF_MIME_TYPES
        encrypted_odf = _check_entries(
            file,
            name,
            entries,
            directory_start,
            is_archive=is_archive,
            search=(ODF_MANIFEST, ODF_ENCRYPTION_MARKER) if is_odf else None,
        )
    if is_archive:
        return False
    if extension in OOXML_MAIN_PARTS:
        return any(
            entry.lower().endswith("vbaproject.bin") or entry.lower().startswith("xl/macrosheets/") for entry in names
        )
    # A password-protected OpenDocument file keeps its parts encrypted (ODF 1.2 part 3, 3.8), which the
    # ZIP flags do not show: its manifest describes the encryption of each.
    if encrypted_odf:
        raise _encrypted_document(name)
    # LibreOffice Basic macros and scripts of an OpenDocument file.
    return any(entry.startswith(("Basic/", "Scripts/")) for entry in names)


def _looks_like_web_page(head):
    start = head[:TEXT_SNIFF_SIZE]
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        start = start.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
    start = start.lower()
    return any(marker in start for marker in HTML_MARKERS)


def _verify_image(file, name, image_format):
    file.seek(0)
    try:
        # Nothing is decoded here, and images are never converted server-side (E5): the warning about
        # a huge image is not ours to give. An image beyond twice Pillow's limit is refused, though.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file, formats=[image_format]) as image:
                image.verify()
    except Image.DecompressionBombError:
        raise UploadRefused(name, "l'image est trop grande (en nombre de pixels)", "image_too_large") from None
    except Exception:  # Pillow raises many types on a damaged file
        raise UploadRefused(name, "l'image est endommagée ou illisible", "broken_image") from None


# --- ZIP ----------------------------------------------------------------------------------------------

# What each rule says, for an archive (.zip) and for a document (OOXML, OpenDocument).
ZIP_REASONS = {
    "too_many_entries": (
        "l'archive contient plus de {limit} fichiers",
        "le document contient plus de {limit} fichiers",
    ),
    "encrypted_entry": (
        "l'archive contient un fichier chiffré (« {entry} »), que l'antivirus ne peut pas analyser",
        "le document contient une partie chiffrée (« {entry} »), que l'antivirus ne peut pas analyser",
    ),
    "unsafe_path": (
        "l'archive contient un chemin dangereux (« {entry} »)",
        "le document contient un chemin dangereux (« {entry} »)",
    ),
    "symlink": (
        "l'archive contient un lien symbolique (« {entry} »)",
        "le document contient un lien symbolique (« {entry} »)",
    ),
    "executable_entry": (
        "l'archive contient un programme ou un script (« {entry} »)",
        "le document contient un programme (« {entry} »)",
    ),
    "unsupported_compression": (
        "l'archive utilise une méthode de compression que le portail ne sait pas vérifier (« {entry} ») : "
        "recréez-la avec la compression ZIP standard (Deflate), celle de l'Explorateur Windows par exemple",
        "le document utilise une méthode de compression que le portail ne sait pas vérifier (« {entry} ») : "
        "enregistrez-le à nouveau depuis votre logiciel de bureautique",
    ),
    "zip_bomb": (
        "l'archive est anormalement compressée (plus de {ratio} fois), comme une « bombe ZIP »",
        "le document est anormalement compressé (plus de {ratio} fois), comme une « bombe ZIP »",
    ),
    "archive_too_large": (
        "une fois décompressée, l'archive dépasserait {limit} Mo",
        "une fois décompressé, le document dépasserait {limit} Mo",
    ),
    "size_mismatch": (
        "l'archive est endommagée ou falsifiée : la taille annoncée de « {entry} » n'est pas sa taille réelle",
        "le document est endommagé ou falsifié : la taille annoncée de « {entry} » n'est pas sa taille réelle",
    ),
    "overlapping_entries": (
        "l'archive est endommagée ou falsifiée : « {entry} » empiète sur un autre fichier",
        "le document est endommagé ou falsifié : « {entry} » empiète sur une autre partie",
    ),
    "broken_entry": (
        "l'archive est endommagée ou falsifiée : « {entry} » est illisible",
        "le document est endommagé ou falsifié : « {entry} » est illisible",
    ),
}

# Stored, Deflate (everything that Windows, macOS, 7-Zip by default and office suites write) and bzip2:
# the methods that can be decompressed here in bounded memory. LZMA needs a dictionary of the size its
# header asks for (up to 4 Go), Deflate64 and the others have no decoder in Python: an entry that
# cannot be decompressed cannot have its real size checked, so it is refused, saying how to redo it.
SUPPORTED_COMPRESSIONS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2})
# The first bytes of each entry that are looked at for a program (a PE header is usually within 512).
ENTRY_HEAD_SIZE = 4096
# Shebang (any Unix script, run whatever its name once its « x » bit is set) and Windows shortcut (.lnk:
# header size 0x4C, then its CLSID 00021401-0000-0000-C000-000000000046).
SHEBANG = re.compile(rb"#!\s*/")
WINDOWS_SHORTCUT_SIGNATURE = bytes.fromhex("4C0000000114020000000000C000000000000046")
# Names that Windows, macOS or a Linux desktop run (or install) when opened, whatever their content:
# programs and libraries, installers and packages, scripts of the shells and of Windows Script Host,
# shortcuts and registry files, HTML applications and compiled help, Java, and the disk images that
# carry programs past the « downloaded from the Internet » mark (Mark of the Web).
EXECUTABLE_ENTRY_EXTENSIONS = frozenset(
    (
        "exe dll com scr pif cpl sys drv ocx efi xll msi msp mst msix msixbundle appx appxbundle appinstaller "
        "application gadget bat cmd ps1 psm1 psd1 ps1xml psc1 vb vbs vbe js jse wsf wsh wsc sct hta chm hlp "
        "msc inf reg scf lnk url settingcontent-ms jar jnlp class sh bash zsh csh ksh command tool run desktop "
        "appimage deb rpm apk xapk ipa pkg dmg app py pyw pyc pl rb iso img vhd vhdx"
    ).split()
)
# A folder that macOS runs as a program when opened: the bundle of an application.
EXECUTABLE_FOLDER_EXTENSIONS = frozenset({"app"})
# The manifest of an OpenDocument file names the encryption of each part of a password-protected one.
ODF_MANIFEST = "META-INF/manifest.xml"
ODF_ENCRYPTION_MARKER = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?encryption-data[\s/>]")


def _zip_refusal(name, is_archive, code, **values):
    archive_reason, document_reason = ZIP_REASONS[code]
    return UploadRefused(name, (archive_reason if is_archive else document_reason).format(**values), code)


def _encrypted_document(name):
    return UploadRefused(
        name,
        "le document est protégé par un mot de passe, ce qui empêche son analyse antivirus : "
        "enregistrez-le sans mot de passe",
        "encrypted_document",
    )


def _open_zip(file, name, size, *, is_archive):
    """(A ZipFile on `file`, the offset of its central directory), once that directory has been counted
    without loading it.

    `zipfile` reads the whole central directory and builds an object for each entry: a crafted one
    could hold hundreds of thousands of tiny entries. It is walked here first, header by header.
    """
    damaged = UploadRefused(name, "le fichier ZIP est endommagé ou illisible", "broken_zip")
    max_entries = ZIP_MAX_ENTRIES if is_archive else CONTAINER_MAX_ENTRIES
    too_many = _zip_refusal(name, is_archive, "too_many_entries", limit=f"{max_entries:,}".replace(",", " "))
    directory = _central_directory(file, size)
    if directory is None:
        raise damaged
    start, directory_size = directory
    if directory_size > ZIP_MAX_DIRECTORY_SIZE:
        raise too_many
    file.seek(start)
    remaining, count = directory_size, 0
    while remaining > 0:
        header = file.read(46)
        if len(header) < 46 or not header.startswith(b"PK\x01\x02"):
            raise damaged
        name_length, extra_length, comment_length = struct.unpack("<HHH", header[28:34])
        file.seek(name_length + extra_length + comment_length, 1)
        remaining -= 46 + name_length + extra_length + comment_length
        count += 1
        if count > max_entries:
            raise too_many
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # an entry « needs » a version of the format above 6.3
        ValueError,
        OSError,
        EOFError,
        struct.error,
    ):
        raise damaged from None
    if len(archive.infolist()) > max_entries:  # the count above is what zipfile sees, whatever
        archive.close()
        raise too_many
    return archive, start


def _central_directory(file, size):
    """(offset, size) of the central directory, found as zipfile finds it (from the end records), or None."""
    window = min(size, 22 + 65535)
    file.seek(size - window)
    data = file.read(window)
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or len(data) - end < 22:
        return None
    entries, directory_size, directory_offset = struct.unpack("<HII", data[end + 10 : end + 20])
    location = size - window + end
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF or directory_offset == 0xFFFFFFFF:
        locator = data[end - 20 : end] if end >= 20 else b""
        if not locator.startswith(b"PK\x06\x07"):
            return None
        # zipfile reads the ZIP64 end record right before its locator (not where the locator says).
        file.seek(max(0, location - 20 - 56))
        record = file.read(56)
        if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
            return None
        directory_size, directory_offset = struct.unpack("<QQ", record[40:56])
        location -= 20 + 56
    start = location - directory_size
    # zipfile tolerates data before the archive (and then trusts whatever end record it finds last,
    # such as the one of a stored inner archive when the outer one is cut): not here.
    if start < 0 or start != directory_offset:
        return None
    return start, directory_size


def _check_entries(file, name, entries, directory_start, *, is_archive, search=None):
    """The rules of SECURITY.md E4 on every entry of a ZIP-based file (.zip, OOXML, OpenDocument).

    First what the central directory says, which costs nothing: encryption, paths, links, programs by
    name (in archives: a document's parts have names of their own), compression methods, sizes and
    ratios. Then each entry is decompressed, in the order of the file, chunk by chunk and never kept,
    nor written anywhere: its real sizes must be the declared ones (the ratio and total rules then hold
    for the real bytes), its CRC must match, and its first bytes must not be a program.

    Decompressing costs time, which stays bounded: an entry is never decompressed beyond its declared
    size and one byte, so at most ZIP_MAX_TOTAL_SIZE in all (about 0.3 s of one core for 200 Mo of
    Deflate; a 20 Mo upload itself takes longer to arrive on deadline day), and no compressed byte is
    read twice, since entries may not overlap. Nested archives are not opened: the antivirus does it
    with its own limits.

    `search` is (entry name, bytes pattern): return whether the pattern occurs in that entry.
    """
    total_size = total_compressed = 0
    for entry in entries:
        shown = _shown(entry.orig_filename, 60)
        # Bit 0: encrypted (ZipCrypto or WinZip AES, whose method is 99); bit 6: strong encryption.
        if entry.flag_bits & 0x41 or entry.compress_type == 99:
            raise _zip_refusal(name, is_archive, "encrypted_entry", entry=shown)
        # zipfile cuts a name at a NUL character (its `filename`), as C programs do, not its `orig_filename`.
        parts = re.split(r"[/\\]", entry.orig_filename)
        if (
            "\x00" in entry.orig_filename
            or entry.orig_filename.startswith(("/", "\\"))
            or re.match(r"[A-Za-z]:", entry.orig_filename)
            or ".." in parts
        ):
            raise _zip_refusal(name, is_archive, "unsafe_path", entry=shown)
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise _zip_refusal(name, is_archive, "symlink", entry=shown)
        if is_archive and _executable_name(parts):
            raise _zip_refusal(name, is_archive, "executable_entry", entry=shown)
        # Bit 5: « compressed patched data », another format altogether.
        if entry.compress_type not in SUPPORTED_COMPRESSIONS or entry.flag_bits & 0x20:
            raise _zip_refusal(name, is_archive, "unsupported_compression", entry=shown)
        if entry.file_size >= ZIP_RATIO_MIN_SIZE and entry.file_size > ZIP_MAX_RATIO * entry.compress_size:
            raise _zip_refusal(name, is_archive, "zip_bomb", ratio=ZIP_MAX_RATIO)
        total_size += entry.file_size
        total_compressed += entry.compress_size
    if total_size > ZIP_MAX_TOTAL_SIZE:
        raise _zip_refusal(name, is_archive, "archive_too_large", limit=ZIP_MAX_TOTAL_SIZE // (1024 * 1024))
    if total_size >= ZIP_RATIO_MIN_SIZE and total_size > ZIP_MAX_RATIO * total_compressed:
        raise _zip_refusal(name, is_archive, "zip_bomb", ratio=ZIP_MAX_RATIO)

    found = False
    ordered = sorted(entries, key=lambda entry: entry.header_offset)
    for index, entry in enumerate(ordered):
        shown = _shown(entry.orig_filename, 60)
        data_start = _local_data_start(file, entry)
        if data_start is None:
            raise _zip_refusal(name, is_archive, "broken_entry", entry=shown)
        # Entries that share bytes make a small file decompress many times (David Fifield's « better zip
        # bomb »), and let two readers see two different contents. The last entry must end before the
        # central directory: past it, its declared compressed size is a lie.
        if index + 1 < len(ordered):
            if data_start + entry.compress_size > ordered[index + 1].header_offset:
                raise _zip_refusal(name, is_archive, "overlapping_entries", entry=shown)
        elif data_start + entry.compress_size > directory_start:
            raise _zip_refusal(name, is_archive, "size_mismatch", entry=shown)
        pattern = search[1] if search and entry.orig_filename == search[0] else None
        found |= _check_entry_data(file, name, entry, data_start, is_archive=is_archive, pattern=pattern)
    return found


def _executable_name(parts):
    """Whether Windows, macOS or a Linux desktop would run this entry when opened, from its name alone."""
    # Windows drops the dots and spaces that end a name: « setup.exe. » is « setup.exe ».
    parts = [part.rstrip(" .").lower() for part in parts if part.rstrip(" .")]
    if not parts:
        return False
    *folders, last = parts
    extension = last.rpartition(".")[2] if "." in last else ""
    if extension in EXECUTABLE_ENTRY_EXTENSIONS or extension in EXECUTABLE_FOLDER_EXTENSIONS:
        return True
    return any("." in folder and folder.rpartition(".")[2] in EXECUTABLE_FOLDER_EXTENSIONS for folder in folders)


def _local_data_start(file, entry):
    """Where the entry's data start, after its local header; None if that header is not the entry's."""
    file.seek(entry.header_offset)
    header = file.read(30)
    if len(header) < 30 or not header.startswith(b"PK\x03\x04"):
        return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    # The local name must be the central one, byte for byte (a streaming extractor reads the local
    # one). Compared as bytes: some writers set the UTF-8 flag (bit 11) in one header only.
    central_name = entry.orig_filename.encode("utf-8" if entry.flag_bits & 0x800 else "cp437")
    if file.read(name_length) != central_name:
        return None
    return entry.header_offset + 30 + name_length + extra_length


class _SizeMismatch(Exception):
    """The compressed data of an entry do not end where its declared compressed size says."""


def _check_entry_data(file, name, entry, data_start, *, is_archive, pattern=None):
    """Decompress one entry in bounded chunks, check its real size, CRC and first bytes; return whether
    `pattern` occurs in it. Memory: a chunk, the first ENTRY_HEAD_SIZE bytes, the decompressor's state."""
    shown = _shown(entry.orig_filename, 60)
    size = crc = 0
    head = b""
    found = False
    carry = b""  # the end of the previous chunk: the pattern may straddle two chunks
    try:
        for chunk in _decompressed(file, entry, data_start):
            size += len(chunk)
            if size > entry.file_size:
                # Stop here: what the directory declared has passed every limit, not what follows.
                raise _SizeMismatch
            crc = zlib.crc32(chunk, crc)
            if len(head) < ENTRY_HEAD_SIZE:
                head += chunk[: ENTRY_HEAD_SIZE - len(head)]
            if pattern is not None and not found:
                window = carry + chunk
                found = pattern.search(window) is not None
                carry = window[-64:]
    except _SizeMismatch:
        raise _zip_refusal(name, is_archive, "size_mismatch", entry=shown) from None
    except (zlib.error, OSError, EOFError, ValueError):  # bz2 says OSError: « Invalid data stream »
        raise _zip_refusal(name, is_archive, "broken_entry", entry=shown) from None
    if size != entry.file_size:
        raise _zip_refusal(name, is_archive, "size_mismatch", entry=shown)
    if crc != entry.CRC:
        raise _zip_refusal(name, is_archive, "broken_entry", entry=shown)
    if _is_program(head, in_archive=is_archive):
        raise _zip_refusal(name, is_archive, "executable_entry", entry=shown)
    return found


def _decompressed(file, entry, data_start):
    """Yield the entry's bytes as they decompress, CHUNK_SIZE at most at a time, and never more than its
    declared size and one byte in all (the caller refuses more). Raise _SizeMismatch if its compressed
    data do not end exactly at its declared compressed size."""
    file.seek(data_start)
    left = entry.compress_size  # compressed bytes not read yet
    budget = entry.file_size + 1  # bytes that may still be produced

    def read():
        nonlocal left
        data = file.read(min(CHUNK_SIZE, left))
        if not data:  # the file ends inside the declared data
            raise _SizeMismatch
        left -= len(data)
        return data

    if entry.compress_type == zipfile.ZIP_STORED:
        while left and budget > 0:
            data = read()
            budget -= len(data)
            yield data
        return
    if not left:
        return  # an empty entry written without any compressed byte: its declared size must be 0
    if entry.compress_type == zipfile.ZIP_DEFLATED:
        decompressor = zlib.decompressobj(-zlib.MAX_WBITS)  # raw Deflate, no zlib header
        pending = b""
        while not decompressor.eof and budget > 0:
            if not pending and left:
                pending = read()
            data = decompressor.decompress(pending, min(CHUNK_SIZE, budget))
            progressed = data or len(decompressor.unconsumed_tail) < len(pending)
            pending = decompressor.unconsumed_tail
            if not progressed:
                break  # no input left, nothing pending: the stream is cut short
            budget -= len(data)
            if data:
                yield data
        leftover = left + len(pending) + len(decompressor.unused_data)
    else:
        decompressor = bz2.BZ2Decompressor()
        while not decompressor.eof and budget > 0:
            data = b""
            if decompressor.needs_input:
                if not left:
                    break
                data = read()
            output = decompressor.decompress(data, min(CHUNK_SIZE, budget))
            if not output and not data:
                break
            budget -= len(output)
            if output:
                yield output
        leftover = left + len(decompressor.unused_data)
    if budget > 0 and (not decompressor.eof or leftover):
        raise _SizeMismatch


def _has_pe_header(head):
    """A Windows program: « MZ », and the « PE » signature where the DOS header points (offset 0x3C)."""
    if not head.startswith(b"MZ") or len(head) < 64:
        return False
    (offset,) = struct.unpack_from("<I", head, 0x3C)
    return head[offset : offset + 4] == b"PE\0\0"


def _is_program(head, *, in_archive):
    """Whether the first bytes of an entry are a program (or, in an archive, a script or a shortcut).

    A part of an Office or OpenDocument file is never a native program, but may be anything else
    (obfuscated fonts look random): only exact signatures count there. In an archive, the checks of
    the uploaded file itself apply too, and libmagic (1 ms a call on a text) only settles « MZ ».
    """
    if head.startswith(EXECUTABLE_SIGNATURES) or _has_pe_header(head):
        return True
    if not in_archive:
        return False
    if SHEBANG.match(head) or head.startswith(WINDOWS_SHORTCUT_SIGNATURE):
        return True
    if not head.startswith(b"MZ"):
        return False
    try:
        return _is_executable(head, magic.from_buffer(head, mime=True))
    except magic.MagicException:
        return True


def _odf_mime_type(archive):
    """The content of the `mimetype` entry of an OpenDocument file (a few dozen bytes), or None."""
    try:
        entry = archive.getinfo("mimetype")
    except KeyError:
        return None
    if entry.file_size > 100 or entry.flag_bits & 0x1:
        return None
    try:
        with archive.open(entry) as content:
            return content.read(101).decode("ascii").strip()
    except (zipfile.BadZipFile, UnicodeDecodeError, NotImplementedError, OSError, EOFError, struct.error):
        return None
