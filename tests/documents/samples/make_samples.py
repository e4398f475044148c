"""Regenerate the sample files of `tests/documents/test_validation.py` (SECURITY.md E2, E5).

    .venv/bin/python tests/documents/samples/make_samples.py

The tests only read the committed files: they never run LibreOffice. The Office samples (doc, dot,
xls, ppt, docx, dotx, xlsx, xlsm, pptx, odt, ods, odp, pdf) are converted by LibreOffice from the small
flat OpenDocument sources below (Debian: `apt-get install libreoffice-core libreoffice-writer
libreoffice-calc libreoffice-impress`); without `soffice` they are left as they are. Everything else is
made here with the standard library and Pillow:
- the OpenDocument formula (.odf), as LibreOffice Math is not installed;
- the images, the text and the ZIP archive;
- the OLE2 compound files holding a VBA project (`macro-vba.doc`, `macro-vba.xls`, and the
  `vbaProject.bin` put into `macro-vbaproject.docx`): a minimal compound file writer lays out the
  storages and streams of a VBA project (`Macros/VBA/_VBA_PROJECT`, `_VBA_PROJECT_CUR/VBA/dir`...).
  Their streams hold filler bytes, not macro code: they exercise the detection of the stream names,
  and contain nothing that could run.
"""

import io
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

from PIL import Image


HERE = Path(__file__).resolve().parent
FIXED_DATE = (2025, 1, 6, 9, 30, 0)

WRITER_SOURCE = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.text">
 <office:body><office:text>
  <text:p>Pièce justificative e-CARS : exemple de document.</text:p>
 </office:text></office:body>
</office:document>
"""

CALC_SOURCE = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
 <office:body><office:spreadsheet><table:table table:name="Indicateurs"><table:table-row>
  <table:table-cell office:value-type="string"><text:p>Réalisé</text:p></table:table-cell>
  <table:table-cell office:value-type="float" office:value="42"><text:p>42</text:p></table:table-cell>
 </table:table-row></table:table></office:spreadsheet></office:body>
</office:document>
"""

IMPRESS_SOURCE = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.presentation">
 <office:body><office:presentation><draw:page draw:name="Diapo 1">
  <draw:frame svg:x="2cm" svg:y="2cm" svg:width="10cm" svg:height="2cm"><draw:text-box>
   <text:p>Bilan CAQES</text:p></draw:text-box></draw:frame>
 </draw:page></office:presentation></office:body>
</office:document>
"""

# (source file, target extension, LibreOffice export filter)
CONVERSIONS = [
    ("source.fodt", "doc", "MS Word 97"),
    ("source.fodt", "dot", "MS Word 97 Vorlage"),
    ("source.fodt", "docx", "MS Word 2007 XML"),
    ("source.fodt", "dotx", "MS Word 2007 XML Template"),
    ("source.fodt", "odt", "writer8"),
    ("source.fodt", "pdf", "writer_pdf_Export"),
    ("source.fods", "xls", "MS Excel 97"),
    ("source.fods", "xlsx", "Calc MS Excel 2007 XML"),
    ("source.fods", "xlsm", "Calc MS Excel 2007 VBA XML"),
    ("source.fods", "ods", "calc8"),
    ("source.fodp", "ppt", "MS PowerPoint 97"),
    ("source.fodp", "pptx", "Impress MS PowerPoint 2007 XML"),
    ("source.fodp", "odp", "impress8"),
]


def convert_with_libreoffice():
    soffice = shutil.which("soffice")
    if soffice is None:
        print("soffice not found: the LibreOffice samples are left as they are", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "source.fodt").write_text(WRITER_SOURCE, encoding="utf-8")
        (work / "source.fods").write_text(CALC_SOURCE, encoding="utf-8")
        (work / "source.fodp").write_text(IMPRESS_SOURCE, encoding="utf-8")
        for source, extension, export_filter in CONVERSIONS:
            subprocess.run(
                [
                    soffice,
                    f"-env:UserInstallation={(work / 'profile').as_uri()}",
                    "--headless",
                    "--convert-to",
                    f"{extension}:{export_filter}",
                    "--outdir",
                    str(work / "out"),
                    str(work / source),
                ],
                check=True,
                capture_output=True,
            )
            shutil.copyfile(work / "out" / f"{Path(source).stem}.{extension}", HERE / f"valid.{extension}")


# --- ZIP-based samples -------------------------------------------------------------------------------


def zip_bytes(entries):
    """A deterministic ZIP: `entries` are (name, bytes, compress_type)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, compress_type in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = compress_type
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def make_odf_formula():
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><semantics><mrow><mi>r</mi><mo>=</mo>'
        "<mfrac><mi>a</mi><mi>b</mi></mfrac></mrow></semantics></math>\n"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3">\n'
        ' <manifest:file-entry manifest:full-path="/" manifest:version="1.3" '
        'manifest:media-type="application/vnd.oasis.opendocument.formula"/>\n'
        ' <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>\n'
        "</manifest:manifest>\n"
    )
    # OpenDocument 1.3 part 2, 3.3: `mimetype` is the first entry, stored uncompressed.
    return zip_bytes(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.formula", zipfile.ZIP_STORED),
            ("content.xml", content.encode(), zipfile.ZIP_DEFLATED),
            ("META-INF/manifest.xml", manifest.encode(), zipfile.ZIP_DEFLATED),
        ]
    )


def make_zip():
    nested = zip_bytes([("lisez-moi.txt", b"Archive imbriquee.\n", zipfile.ZIP_DEFLATED)])
    return zip_bytes(
        [
            ("rapport.txt", "Rapport d'activité 2024.\n".encode() * 20, zipfile.ZIP_DEFLATED),
            ("annexes/tableau.csv", b"indicateur;cible;realise\nA1;90;87\n", zipfile.ZIP_DEFLATED),
            ("annexes/archive-imbriquee.zip", nested, zipfile.ZIP_STORED),
        ]
    )


# --- OLE2 compound files (MS-CFB, version 3) ---------------------------------------------------------

SECTOR = 512
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MINI_STREAM_CUTOFF = 4096
WORD_CLSID = uuid.UUID("00020906-0000-0000-c000-000000000046").bytes_le
EXCEL_CLSID = uuid.UUID("00020820-0000-0000-c000-000000000046").bytes_le


def compound_file(children, root_clsid=bytes(16)):
    """A compound file whose root holds `children`: (name, bytes) streams or (name, [children]) storages.

    Every stream is padded to the mini stream cutoff, so that all live in regular sectors and no
    mini stream is needed; siblings form a balanced binary search tree (all black), as readers expect.
    """
    entries = [{"name": "Root Entry", "type": 5, "clsid": root_clsid, "children": children}]
    streams = []

    def add(items):
        ids = []
        for name, content in items:
            entry = {"name": name, "clsid": bytes(16)}
            entries.append(entry)
            ids.append(len(entries) - 1)
            if isinstance(content, bytes):
                entry["type"] = 2
                entry["data"] = content.ljust(MINI_STREAM_CUTOFF, b"\0")
                streams.append(entry)
            else:
                entry["type"] = 1
                entry["children"] = content
        return ids

    def tree(ids):
        if not ids:
            return NOSTREAM
        ids = sorted(ids, key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
        middle = len(ids) // 2
        entries[ids[middle]]["left"] = tree(ids[:middle])
        entries[ids[middle]]["right"] = tree(ids[middle + 1 :])
        return ids[middle]

    pending = [0]
    while pending:
        parent = entries[pending.pop()]
        ids = add(parent["children"])
        parent["child"] = tree(ids)
        pending.extend(i for i in ids if entries[i]["type"] == 1)

    fat = []
    for entry in streams:
        count = -(-len(entry["data"]) // SECTOR)
        entry["start"] = len(fat)
        fat.extend(range(len(fat) + 1, len(fat) + count))
        fat.append(ENDOFCHAIN)
    directory_sectors = -(-len(entries) // (SECTOR // 128))
    directory_start = len(fat)
    fat.extend(range(len(fat) + 1, len(fat) + directory_sectors))
    fat.append(ENDOFCHAIN)
    fat_sectors = 1
    while len(fat) + fat_sectors > fat_sectors * (SECTOR // 4):
        fat_sectors += 1
    fat_start = len(fat)
    fat.extend([FATSECT] * fat_sectors)
    fat.extend([FREESECT] * (fat_sectors * (SECTOR // 4) - len(fat)))
    assert fat_sectors <= 109

    difat = list(range(fat_start, fat_start + fat_sectors)) + [FREESECT] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        bytes(16),
        0x003E,
        0x0003,
        0xFFFE,
        9,
        6,
        bytes(6),
        0,
        fat_sectors,
        directory_start,
        0,
        MINI_STREAM_CUTOFF,
        ENDOFCHAIN,
        0,
        ENDOFCHAIN,
        0,
    ) + struct.pack("<109I", *difat)
    assert len(header) == SECTOR

    directory = b""
    for entry in entries:
        name = entry["name"].encode("utf-16-le") + b"\0\0"
        data = entry.get("data", b"")
        directory += struct.pack(
            "<64sHBBIII16sIQQIQ",
            name,
            len(name),
            entry["type"],
            1,
            entry.get("left", NOSTREAM),
            entry.get("right", NOSTREAM),
            entry.get("child", NOSTREAM),
            entry["clsid"],
            0,
            0,
            0,
            entry.get("start", ENDOFCHAIN if entry["type"] == 5 else 0),
            len(data),
        )
    unused = struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, bytes(16), 0, 0, 0, 0, 0)
    directory += unused * (directory_sectors * (SECTOR // 128) - len(entries))

    body = b"".join(entry["data"].ljust(-(-len(entry["data"]) // SECTOR) * SECTOR, b"\0") for entry in streams)
    return header + body + directory + struct.pack(f"<{len(fat)}I", *fat)


def vba_project():
    """The storages of a VBA project, as Office writes them (MS-OVBA 2.2), with filler content."""
    return [
        ("PROJECT", b'ID="{00000000-0000-0000-0000-000000000000}"\r\nName="Projet"\r\n'),
        ("PROJECTwm", b"ThisDocument\0T\0h\0i\0s\0D\0o\0c\0u\0m\0e\0n\0t\0\0\0\0\0"),
        (
            "VBA",
            [
                ("_VBA_PROJECT", b"\xcc\x61\xff\xff\x00\x00\x00"),
                ("dir", b"\x01filler: no compressed module source"),
                ("ThisDocument", b"filler: no module"),
            ],
        ),
    ]


def make_macro_doc():
    return compound_file(
        [
            ("WordDocument", b"\xec\xa5\xc1\x00filler: not a real Word binary document"),
            ("1Table", b"filler"),
            ("Macros", vba_project()),
        ],
        root_clsid=WORD_CLSID,
    )


def make_macro_xls():
    return compound_file(
        [("Workbook", b"\x09\x08\x10\x00\x00\x06\x05\x00filler"), ("_VBA_PROJECT_CUR", vba_project())],
        root_clsid=EXCEL_CLSID,
    )


def make_macro_docx():
    """The LibreOffice .docx with a `word/vbaProject.bin`, as in a .docm renamed .docx."""
    buffer = io.BytesIO((HERE / "valid.docx").read_bytes())
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo("word/vbaProject.bin", date_time=FIXED_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, compound_file(vba_project()))
    return buffer.getvalue()


# --- images and text -----------------------------------------------------------------------------------


def image_bytes(image_format):
    image = Image.new("RGB", (16, 16))
    image.putdata([(16 * x, 16 * y, 128) for y in range(16) for x in range(16)])
    buffer = io.BytesIO()
    if image_format == "GIF":
        image = image.convert("P")
    image.save(buffer, image_format)
    return buffer.getvalue()


def main():
    convert_with_libreoffice()
    (HERE / "valid.txt").write_bytes(
        "Rapport d'activité 2024 — établissement de santé.\nIndicateur A1 : réalisé 87 %.\n".encode()
    )
    (HERE / "valid.odf").write_bytes(make_odf_formula())
    (HERE / "valid.zip").write_bytes(make_zip())
    (HERE / "valid.jpg").write_bytes(image_bytes("JPEG"))
    (HERE / "valid.gif").write_bytes(image_bytes("GIF"))
    (HERE / "valid.tiff").write_bytes(image_bytes("TIFF"))
    (HERE / "macro-vba.doc").write_bytes(make_macro_doc())
    (HERE / "macro-vba.xls").write_bytes(make_macro_xls())
    (HERE / "macro-vbaproject.docx").write_bytes(make_macro_docx())


if __name__ == "__main__":
    main()
