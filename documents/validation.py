"""Validation of uploaded documents (SECURITY.md E1–E5): name, size, content, archives, macros.

Pure: nothing is stored and nothing is extracted. `validate_upload` reads the file once, in chunks
(constant memory: the first megabyte for libmagic, the last kilobyte for the PDF trailer, a SHA-256),
then checks the structure of the formats that have one: the ZIP central directory of archives and of
OOXML/OpenDocument files, the header of images through Pillow. The client's content type is never read.

The content must be what the extension says, decided from the bytes: libmagic's MIME type must be
one that `MIME_TYPES` lists for the extension (the strings of Debian 12's libmagic 5.44, kept under
test: they differ between libmagic versions), and the structural check of the extension must pass.
Executables are refused whatever their name. Macro-capable content is flagged, not refused
(« contient des macros », SECURITY.md §0.6 and E5).
"""

import hashlib
import re
import stat
import struct
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass

import magic
from PIL import Image


MAX_SIZE = 20 * 1024 * 1024  # « 20 Mo maximum », stated in the UI
MAX_SIZE_LABEL = "20 Mo"
# The manual's list, in its order: « txt, xls, xlsx, xlm, xlsm, doc, docx, pdf, ppt, pptx, zip, jpg, jpeg, tiff,
# gif, odt, odp, ods, odf, dot, et dotx. Limité à 20 MO maximum. »
ALLOWED_EXTENSIONS = tuple(
    "txt xls xlsx xlm xlsm doc docx pdf ppt pptx zip jpg jpeg tiff gif odt odp ods odf dot dotx".split()
)
ACCEPT_ATTRIBUTE = ",".join(f".{extension}" for extension in ALLOWED_EXTENSIONS)
ACCEPTED_FORMATS = ", ".join(ALLOWED_EXTENSIONS)

MAX_NAME_LENGTH = 200

# .zip archives (SECURITY.md E4), checked on their central directory only.
ZIP_MAX_ENTRIES = 1000
ZIP_MAX_TOTAL_SIZE = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
# Deflate legitimately packs a small run of blanks (an empty CSV column, a padded text) far beyond
# 100:1, and a small entry cannot be a bomb by itself (the total size bounds them all): the ratio
# rule applies to entries, and to the whole, of at least this uncompressed size.
ZIP_RATIO_MIN_SIZE = 1024 * 1024
# OOXML and OpenDocument files are ZIP containers too: their directory is read (never their content,
# apart from the few bytes of an OpenDocument `mimetype`), so only its size is bounded.
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
        raise _too_large(shown)
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


def _too_large(name):
    return UploadRefused(name, f"il dépasse {MAX_SIZE_LABEL} ({MAX_SIZE_LABEL} maximum par fichier)", "too_large")


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
    """Read the file once: size, SHA-256, head and tail, and (if asked) the markers that need all the bytes."""
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
        tail = (tail + chunk)[-PDF_TRAILER_WINDOW:]
        if html_markers and html_marker is None:
            window = carry + chunk.lower()
            html_marker = next((marker for marker in HTML_MARKERS if marker in window), None)
            carry = window[-overlap:]
        if ole_names:
            found_names.update(_ole_stream_names(chunk, position))
    if size == 0:
        raise UploadRefused(name, "c'est un fichier vide (0 octet)", "empty")
    return _Read(size, digest.hexdigest(), bytes(head), tail, html_marker, frozenset(found_names))


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
            raise UploadRefused(
                name,
                "le document est protégé par un mot de passe, ce qui empêche son analyse antivirus : "
                "enregistrez-le sans mot de passe",
                "encrypted_document",
            )
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

    # From here on, a ZIP: .zip, OOXML or OpenDocument.
    if not read.head.startswith(ZIP_SIGNATURES):
        raise mismatch()
    is_archive = extension == "zip"
    archive = _open_zip(file, name, read.size, ZIP_MAX_ENTRIES if is_archive else CONTAINER_MAX_ENTRIES)
    with archive:
        entries = archive.infolist()
        if is_archive:
            _check_archive(name, entries)
            return False
        names = {entry.filename for entry in entries}
        if extension in OOXML_MAIN_PARTS:
            if "[Content_Types].xml" not in names or OOXML_MAIN_PARTS[extension] not in names:
                raise mismatch()
            return any(
                entry.lower().endswith("vbaproject.bin") or entry.lower().startswith("xl/macrosheets/")
                for entry in names
            )
        if _odf_mime_type(archive) != _ODF_MIME_TYPES[extension]:
            raise mismatch()
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


def _open_zip(file, name, size, max_entries):
    """A ZipFile on `file`, once its central directory has been counted without loading it.

    `zipfile` reads the whole central directory and builds an object for each entry: a crafted one
    could hold hundreds of thousands of tiny entries. It is walked here first, header by header.
    """
    damaged = UploadRefused(name, "le fichier ZIP est endommagé ou illisible", "broken_zip")
    directory = _central_directory(file, size)
    if directory is None:
        raise damaged
    start, directory_size = directory
    if directory_size > ZIP_MAX_DIRECTORY_SIZE:
        raise _too_many_entries(name, max_entries)
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
            raise _too_many_entries(name, max_entries)
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, struct.error):
        raise damaged from None
    if len(archive.infolist()) > max_entries:  # the count above is what zipfile sees, whatever
        archive.close()
        raise _too_many_entries(name, max_entries)
    return archive


def _too_many_entries(name, max_entries):
    what = "l'archive contient" if max_entries == ZIP_MAX_ENTRIES else "le document contient"
    return UploadRefused(name, f"{what} plus de {max_entries:,} fichiers".replace(",", " "), "too_many_entries")


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


def _check_archive(name, entries):
    """The rules of SECURITY.md E4 on a .zip, from its central directory: nothing is decompressed.

    Nested archives are allowed and not inspected further: the antivirus opens them with its own
    limits, and nothing here ever extracts them.
    """
    total_size = total_compressed = 0
    for entry in entries:
        shown = _shown(entry.filename, 60)
        # Bit 0: encrypted (ZipCrypto or WinZip AES, whose method is 99); bit 6: strong encryption.
        if entry.flag_bits & 0x41 or entry.compress_type == 99:
            raise UploadRefused(
                name,
                f"l'archive contient un fichier chiffré (« {shown} »), que l'antivirus ne peut pas analyser",
                "encrypted_entry",
            )
        parts = re.split(r"[/\\]", entry.filename)
        if entry.filename.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", entry.filename) or ".." in parts:
            raise UploadRefused(name, f"l'archive contient un chemin dangereux (« {shown} »)", "unsafe_path")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise UploadRefused(name, f"l'archive contient un lien symbolique (« {shown} »)", "symlink")
        if entry.file_size >= ZIP_RATIO_MIN_SIZE and entry.file_size > ZIP_MAX_RATIO * entry.compress_size:
            raise _zip_bomb(name)
        total_size += entry.file_size
        total_compressed += entry.compress_size
    if total_size > ZIP_MAX_TOTAL_SIZE:
        raise UploadRefused(
            name,
            f"une fois décompressée, l'archive dépasserait {ZIP_MAX_TOTAL_SIZE // (1024 * 1024)} Mo",
            "archive_too_large",
        )
    if total_size >= ZIP_RATIO_MIN_SIZE and total_size > ZIP_MAX_RATIO * total_compressed:
        raise _zip_bomb(name)


def _zip_bomb(name):
    return UploadRefused(
        name,
        f"l'archive est anormalement compressée (plus de {ZIP_MAX_RATIO} fois), comme une « bombe ZIP »",
        "zip_bomb",
    )


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
