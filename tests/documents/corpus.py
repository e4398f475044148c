"""Files for the upload tests: the valid sample of each format, and the hostile ones of the issue.

The valid samples are in `samples/` (built by `samples/make_samples.py`); the hostile files are built
here, from bytes, so that nothing dangerous is stored in the repository.
"""

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
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


@functools.cache
def deflated_zeros(size) -> bytes:
    """`size` zero bytes (a multiple of 1 Mo) as raw Deflate, about 1 Ko a megabyte, built without them.

    After a full flush the compressor starts afresh, so each megabyte of zeros compresses to the same
    bytes: one block, repeated.
    """
    assert size % MIB == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (size // MIB) + compressor.flush()


@dataclass
class Entry:
    """An entry of a ZIP written byte by byte by `crafted_zip`, so that its headers may lie.

    By default everything is true: `data` is `content` compressed by `method`, and the sizes and CRC
    declared (in the local header and in the central directory alike) are those of `content`.
    """

    name: str
    content: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    data: bytes | None = None  # the bytes stored after the local header
    file_size: int | None = None  # declared
    compress_size: int | None = None  # declared
    crc: int | None = None  # declared
    flags: int = 0x800  # UTF-8 names
    external_attr: int = 0
    local_name: str | None = None  # the name in the local header
    local_flags: int | None = None  # the flags in the local header
    same_as: int | None = None  # no local header of its own: the central record points at this entry's


def crafted_zip(entries) -> bytes:
    out = io.BytesIO()
    offsets, central = [], []
    for entry in entries:
        data = entry.data
        if data is None:
            if entry.method == zipfile.ZIP_DEFLATED:
                compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
                data = compressor.compress(entry.content) + compressor.flush()
            else:
                data = entry.content
        crc = zlib.crc32(entry.content) if entry.crc is None else entry.crc
        file_size = len(entry.content) if entry.file_size is None else entry.file_size
        compress_size = len(data) if entry.compress_size is None else entry.compress_size
        name = entry.name.encode()
        fields = struct.pack("<HHHHHIII", 20, entry.flags, entry.method, 0, 0x5A21, crc, compress_size, file_size)
        if entry.same_as is None:
            offsets.append(out.tell())
            local_name = (entry.name if entry.local_name is None else entry.local_name).encode()
            local_fields = fields
            if entry.local_flags is not None:
                local_fields = fields[:2] + struct.pack("<H", entry.local_flags) + fields[4:]
            out.write(b"PK\x03\x04" + local_fields + struct.pack("<HH", len(local_name), 0) + local_name + data)
        else:
            offsets.append(offsets[entry.same_as])
        central.append(
            b"PK\x01\x02"
            + struct.pack("<H", 0x0314)  # made by: Unix, 2.0 (so that the mode in external_attr counts)
            + fields
            + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, entry.external_attr, offsets[-1])
            + name
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(central), len(central), len(directory), start, 0))
    return out.getvalue()


def entries_of(data) -> list[Entry]:
    """The entries of a ZIP (a sample document), to write again with `crafted_zip`, in the same order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [Entry(info.filename, archive.read(info), method=info.compress_type) for info in archive.infolist()]


def docx_bomb() -> bytes:
    """The sample .docx with a part of 1 Go of zeros, about 1 Mo compressed (1000:1), sizes honestly declared."""
    zeros = deflated_zeros(1024 * MIB)
    bomb = Entry("word/media/image1.bin", data=zeros, file_size=1024 * MIB, crc=zeros_crc(1024 * MIB))
    return crafted_zip([*entries_of(sample("valid.docx")), bomb])


@functools.cache
def zeros_crc(size) -> int:
    crc, block = 0, bytes(MIB)
    for _ in range(size // MIB):
        crc = zlib.crc32(block, crc)
    return crc


def lying_zip() -> bytes:
    """A ZIP whose central directory declares 10 Ko for an entry that decompresses to 4 Go of zeros."""
    zeros = deflated_zeros(4096 * MIB)
    declared = 10_000
    return crafted_zip(
        [
            Entry("rapport.txt", b"Rapport annuel.\n"),
            Entry("donnees.csv", data=zeros, file_size=declared, crc=zlib.crc32(bytes(declared))),
        ]
    )


def zip_holding(name, content=b"@echo off\r\n") -> bytes:
    """A .zip with a small PDF and one more entry."""
    return zipfile_bytes([("rapport.pdf", sample("valid.pdf")), (name, content)])


def zipfile_bytes(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of (name, bytes) entries, or (ZipInfo, bytes), written by zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


HTML_PAGE = b"<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def stored_files(folder) -> list[str]:
    """The files in a storage folder, by key (« documents/<uuid> »)."""
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*") if path.is_file())
