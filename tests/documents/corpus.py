"""Files for the upload tests: the valid sample of each format, and the hostile ones of the issue.

The valid samples are in `samples/` (built by `samples/make_samples.py`); the hostile files are built
here, from bytes, so that nothing dangerous is stored in the repository.
"""

import io
import struct
import zipfile
import zlib
from pathlib import Path

from PIL import Image


SAMPLES = Path(__file__).resolve().parent / "samples"
MIB = 1024 * 1024

WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXCEL = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POWERPOINT = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

# extension: (sample, MIME type answered by libmagic 5.44, « contient des macros »)
VALID = {
    "txt": ("valid.txt", "text/plain", False),
    "xls": ("valid.xls", "application/vnd.ms-excel", False),
    "xlsx": ("valid.xlsx", EXCEL, False),
    "xlm": ("valid.xls", "application/vnd.ms-excel", True),
    "xlsm": ("valid.xlsm", EXCEL, True),
    "doc": ("valid.doc", "application/msword", False),
    "docx": ("valid.docx", WORD, False),
    "pdf": ("valid.pdf", "application/pdf", False),
    "ppt": ("valid.ppt", "application/vnd.ms-powerpoint", False),
    "pptx": ("valid.pptx", POWERPOINT, False),
    "zip": ("valid.zip", "application/zip", False),
    "jpg": ("valid.jpg", "image/jpeg", False),
    "jpeg": ("valid.jpg", "image/jpeg", False),
    "tiff": ("valid.tiff", "image/tiff", False),
    "gif": ("valid.gif", "image/gif", False),
    "odt": ("valid.odt", "application/vnd.oasis.opendocument.text", False),
    "odp": ("valid.odp", "application/vnd.oasis.opendocument.presentation", False),
    "ods": ("valid.ods", "application/vnd.oasis.opendocument.spreadsheet", False),
    "odf": ("valid.odf", "application/vnd.oasis.opendocument.formula", False),
    "dot": ("valid.dot", "application/msword", False),
    "dotx": ("valid.dotx", WORD, False),
}


def sample(file_name) -> bytes:
    return (SAMPLES / file_name).read_bytes()


def portable_executable() -> bytes:
    """The headers of a Windows program (PE32): enough for libmagic and for the loader to try."""
    dos = bytearray(64)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x14C, 1, 0, 0, 0, 224, 0x0102)
    return bytes(dos) + coff + struct.pack("<HBB", 0x10B, 14, 0) + bytes(222 + 512)


def png_html_polyglot() -> bytes:
    """A PNG that is also an HTML page: the markup in a tEXt chunk and after IEND."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(sample("valid.gif"))).convert("RGB").save(buffer, "PNG")
    png = buffer.getvalue()
    html = b"<html><body><script>alert(document.domain)</script></body></html>"
    chunk = b"tEXt" + b"Comment\0" + html
    text = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    polyglot = png[:33] + text + png[33:] + html
    Image.open(io.BytesIO(polyglot)).verify()
    return polyglot


def zip_bomb() -> bytes:
    """50 Mo of zeros deflated to about 50 Ko."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w") as entry:
            for _ in range(50):
                entry.write(bytes(MIB))
    return buffer.getvalue()


HTML_PAGE = b"<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def stored_files(folder) -> list[str]:
    """The files in a storage folder, by key (« documents/<uuid> »)."""
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*") if path.is_file())
