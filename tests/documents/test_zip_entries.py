"""The entries of ZIP-based files (SECURITY.md E4, issue 9): archives, and OOXML and OpenDocument documents.

Every ZIP-based format gets the archive rules (entries, total size, ratio, encryption, paths, links);
each entry is decompressed in bounded chunks so that a central directory that lies about sizes is
caught; an archive holding a program or a script is refused, naming it. The hostile files are built
here, byte by byte when their headers must lie (`corpus.crafted_zip`).
"""

import bz2
import io
import os
import random
import stat
import sys
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from documents import validation
from documents.validation import UploadRefused, validate_upload
from tests.documents.corpus import (
    MIB,
    VALID,
    Entry,
    crafted_zip,
    deflated_zeros,
    entries_of,
    lying_zip,
    portable_executable,
    sample,
    zeros_crc,
    zip_holding,
    zipfile_bytes,
)


# The header of a Windows shortcut (.lnk): its size, 0x4C, then its CLSID.
WINDOWS_SHORTCUT = bytes.fromhex("4C0000000114020000000000C000000000000046")
CONTAINERS = ["docx", "dotx", "xlsx", "xlsm", "pptx", "odt", "ods", "odp", "odf"]
GIB = 1024 * MIB


def refusal(uploaded_file) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        validate_upload(uploaded_file)
    return caught.value


def container(extension, *extra):
    """The valid sample of this format, written again entry by entry, with `extra` entries at the end."""
    return crafted_zip([*entries_of(sample(VALID[extension][0])), *extra])


# --- Office and OpenDocument files get the archive rules ----------------------------------------------


@pytest.mark.parametrize("extension", CONTAINERS)
def test_a_document_written_again_by_the_test_writer_is_accepted(upload, extension):
    """The hostile documents below differ from the samples by their extra entry only."""
    assert validate_upload(upload(f"rapport.{extension}", container(extension))).extension == extension


@pytest.mark.parametrize("extension", CONTAINERS)
def test_a_document_with_a_1_gb_zero_filled_part_is_refused(upload, extension):
    bomb = Entry("media/image1.bin", data=deflated_zeros(GIB), file_size=GIB, crc=zeros_crc(GIB))
    data = container(extension, bomb)
    assert len(data) < 2 * MIB  # 1000:1

    refused = refusal(upload(f"rapport.{extension}", data))

    assert refused.code == "zip_bomb"
    assert str(refused) == (
        f"« rapport.{extension} » est refusé : le document est anormalement compressé (plus de 100 fois), "
        "comme une « bombe ZIP »."
    )


def test_a_document_above_the_total_size_once_decompressed_is_refused(upload, monkeypatch):
    # 200 Mo at a ratio under 100 needs more than 2 Mo of compressed data: the limit is lowered.
    monkeypatch.setattr(validation, "ZIP_MAX_TOTAL_SIZE", 2 * MIB)
    noise = random.Random(0).randbytes(3 * MIB)
    refused = refusal(upload("rapport.docx", container("docx", Entry("word/media/image1.png", noise))))
    assert refused.code == "archive_too_large"
    assert refused.reason == "une fois décompressé, le document dépasserait 2 Mo"


@pytest.mark.parametrize("extension", ["docx", "xlsx", "odt"])
@pytest.mark.parametrize(
    ("entry", "code", "reason"),
    [
        pytest.param(
            Entry("word/secret.xml", data=os.urandom(100), file_size=88, flags=0x801),
            "encrypted_entry",
            "le document contient une partie chiffrée (« word/secret.xml »), que l'antivirus ne peut pas analyser",
            id="encrypted",
        ),
        pytest.param(
            Entry("../../../evil.xml", b"<evil/>"),
            "unsafe_path",
            "le document contient un chemin dangereux (« ../../../evil.xml »)",
            id="path",
        ),
        pytest.param(
            Entry(
                "word/lien.xml",
                b"/etc/passwd",
                method=zipfile.ZIP_STORED,
                external_attr=(stat.S_IFLNK | 0o777) << 16,
            ),
            "symlink",
            "le document contient un lien symbolique (« word/lien.xml »)",
            id="symlink",
        ),
        pytest.param(
            Entry("word/embeddings/oleObject1.bin", portable_executable()),
            "executable_entry",
            "le document contient un programme (« word/embeddings/oleObject1.bin »)",
            id="windows-program",
        ),
        pytest.param(
            Entry("word/embeddings/oleObject2.bin", Path(sys.executable).resolve().read_bytes()[:65536]),
            "executable_entry",
            "le document contient un programme (« word/embeddings/oleObject2.bin »)",
            id="linux-program",
        ),
    ],
)
def test_a_document_breaking_an_archive_rule_is_refused(upload, extension, entry, code, reason):
    refused = refusal(upload(f"rapport.{extension}", container(extension, entry)))
    assert refused.code == code
    assert str(refused) == f"« rapport.{extension} » est refusé : {reason}."


ENCRYPTED_CONTENT_ENTRY = b"""
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="3219">
  <manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k"
   manifest:checksum="dGVzdA==">
   <manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc"
    manifest:initialisation-vector="dGVzdA=="/>
   <manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:key-size="32"
    manifest:iteration-count="100000" manifest:salt="dGVzdA=="/>
  </manifest:encryption-data>
 </manifest:file-entry>"""


def test_a_password_protected_opendocument_says_so(upload):
    """As LibreOffice saves it with a password: parts encrypted, and described so in the manifest only."""
    entries = entries_of(sample("valid.odt"))
    for entry in entries:
        if entry.name == "META-INF/manifest.xml":
            plain = b'\n <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            assert plain in entry.content
            entry.content = entry.content.replace(plain, ENCRYPTED_CONTENT_ENTRY)
        if entry.name == "content.xml":
            entry.content, entry.method = os.urandom(3232), zipfile.ZIP_STORED

    refused = refusal(upload("compte rendu.odt", crafted_zip(entries)))

    assert refused.code == "encrypted_document"
    assert str(refused) == (
        "« compte rendu.odt » est refusé : le document est protégé par un mot de passe, ce qui empêche son "
        "analyse antivirus : enregistrez-le sans mot de passe."
    )


def test_a_picture_named_encryption_data_is_no_password(upload):
    data = container("odt", Entry("Pictures/encryption-data.png", sample("valid.gif")))
    assert validate_upload(upload("texte.odt", data)).extension == "odt"


# --- real sizes: every entry decompressed, in bounded chunks -----------------------------------------


def test_a_zip_whose_directory_under_declares_sizes_is_refused_in_bounded_time_and_memory(upload):
    data = lying_zip()  # « donnees.csv »: 10 Ko declared, 4 Go of zeros inside
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("donnees.csv").file_size == 10_000
    uploaded = upload("annexes.zip", data)

    started = time.process_time()
    tracemalloc.start()
    try:
        refused = refusal(uploaded)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.process_time() - started

    assert refused.code == "size_mismatch"
    assert str(refused) == (
        "« annexes.zip » est refusé : l'archive est endommagée ou falsifiée : la taille annoncée de "
        "« donnees.csv » n'est pas sa taille réelle."
    )
    # Decompressing the 4 Go would take several seconds; stopping past the declared size, a few ms.
    assert elapsed < 1, elapsed
    assert peak < 4 * MIB, peak


def test_a_document_whose_directory_under_declares_a_part_is_refused(upload):
    lie = Entry("xl/media/image1.png", data=deflated_zeros(GIB), file_size=5000, crc=zlib.crc32(bytes(5000)))
    refused = refusal(upload("tableau.xlsx", container("xlsx", lie)))
    assert str(refused) == (
        "« tableau.xlsx » est refusé : le document est endommagé ou falsifié : la taille annoncée de "
        "« xl/media/image1.png » n'est pas sa taille réelle."
    )


TABLE = b"".join(b"%d;%d;%d\n" % (number, number * 7 % 1000, number * 13 % 97) for number in range(20_000))


def _raw_deflate(content):
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(content) + compressor.flush()


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(Entry("tableau.csv", TABLE, file_size=len(TABLE) * 2), id="declared-larger"),
        pytest.param(Entry("tableau.csv", TABLE, file_size=len(TABLE) // 2), id="declared-smaller"),
        pytest.param(Entry("tableau.csv", TABLE, compress_size=100), id="compressed-declared-shorter"),
        pytest.param(
            Entry("tableau.csv", TABLE, data=_raw_deflate(TABLE) + bytes(100)), id="compressed-declared-longer"
        ),
        pytest.param(
            Entry("tableau.csv", TABLE, method=zipfile.ZIP_STORED, file_size=len(TABLE) - 1), id="stored-longer"
        ),
        pytest.param(
            Entry("tableau.csv", TABLE, method=zipfile.ZIP_BZIP2, data=bz2.compress(TABLE), file_size=1000),
            id="bzip2-declared-smaller",
        ),
    ],
)
def test_a_declared_size_that_is_not_the_real_one_is_refused(upload, entry):
    data = crafted_zip([Entry("rapport.txt", b"Rapport annuel.\n"), entry])
    refused = refusal(upload("annexes.zip", data))
    assert refused.code == "size_mismatch"
    assert refused.reason == (
        "l'archive est endommagée ou falsifiée : la taille annoncée de « tableau.csv » n'est pas sa taille réelle"
    )


def test_entries_sharing_their_bytes_are_refused(upload):
    """Three names, one stored copy: each reader would decompress it three times (a « better zip bomb »)."""
    noise = os.urandom(100_000)
    data = crafted_zip([Entry("piece.bin", noise), Entry("piece.bin", noise, same_as=0), Entry("autre.bin", b"x")])
    refused = refusal(upload("annexes.zip", data))
    assert str(refused) == (
        "« annexes.zip » est refusé : l'archive est endommagée ou falsifiée : "
        "« piece.bin » empiète sur un autre fichier."
    )


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(Entry("rapport.txt", TABLE, method=zipfile.ZIP_STORED, data=TABLE[:-2] + b"!\n"), id="bad-crc"),
        pytest.param(Entry("rapport.txt", TABLE, data=b"\xff" * 64), id="not-deflate"),
        # A streaming extractor reads the local header and would write « setup.exe ».
        pytest.param(Entry("rapport.txt", TABLE, local_name="setup.exe"), id="local-name-differs"),
    ],
)
def test_a_damaged_or_inconsistent_entry_is_refused(upload, entry):
    refused = refusal(upload("annexes.zip", crafted_zip([entry])))
    assert refused.code == "broken_entry"
    assert refused.reason == "l'archive est endommagée ou falsifiée : « rapport.txt » est illisible"


def test_a_name_flagged_utf_8_in_the_central_directory_only_is_accepted(upload):
    """Some writers set the UTF-8 flag in one header only: the names are the same bytes."""
    data = crafted_zip([Entry("Évaluation été.txt", b"Bilan.\n", flags=0x800, local_flags=0)])
    assert validate_upload(upload("annexes.zip", data)).extension == "zip"


def test_a_zip_needing_a_future_version_of_the_format_is_refused_not_a_crash(upload):
    data = bytearray(crafted_zip([Entry("rapport.txt", b"Rapport.\n")]))
    data[data.rfind(b"PK\x01\x02") + 6] = 64  # « version needed to extract »: 6.4, above zipfile's 6.3
    refused = refusal(upload("annexes.zip", bytes(data)))
    assert (refused.code, refused.reason) == ("broken_zip", "le fichier ZIP est endommagé ou illisible")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(zipfile_bytes([("tableau.csv", TABLE)], zipfile.ZIP_LZMA), id="lzma"),
        pytest.param(crafted_zip([Entry("tableau.csv", TABLE, method=9, data=os.urandom(5000))]), id="deflate64"),
    ],
)
def test_a_compression_that_cannot_be_checked_is_refused_saying_what_to_do(upload, data):
    refused = refusal(upload("annexes.zip", data))
    assert refused.code == "unsupported_compression"
    assert str(refused) == (
        "« annexes.zip » est refusé : l'archive utilise une méthode de compression que le portail ne sait pas "
        "vérifier (« tableau.csv ») : recréez-la avec la compression ZIP standard (Deflate), celle de "
        "l'Explorateur Windows par exemple."
    )


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_usual_compressions_are_accepted(upload, compression):
    data = zipfile_bytes([("tableau.csv", TABLE), ("vide.txt", b""), ("dossier/", b"")], compression)
    assert validate_upload(upload("annexes.zip", data)).extension == "zip"


def test_a_name_cut_by_a_nul_character_is_refused(upload):
    # zipfile (and C programs) see « setup.exe »; a Java or .NET extractor, « setup.exe\0.txt ».
    refused = refusal(upload("annexes.zip", crafted_zip([Entry("setup.exe\x00.txt", b"MZ")])))
    assert refused.code == "unsafe_path"
    assert str(refused) == "« annexes.zip » est refusé : l'archive contient un chemin dangereux (« setup.exe�.txt »)."


def test_a_100_mo_entry_is_decompressed_in_constant_memory(upload):
    """About 37:1 (zeros with some noise): accepted, and read 64 Ko at a time whatever its size."""
    buffer, noise = io.BytesIO(), random.Random(0)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("mesures.dat", "w") as entry:
            for _ in range(100 * 256):
                entry.write(bytes(4000) + noise.randbytes(96))
    uploaded = upload("mesures.zip", buffer.getvalue())
    assert zipfile.ZipFile(uploaded).getinfo("mesures.dat").file_size == 100 * 256 * 4096
    uploaded.seek(0)

    tracemalloc.start()
    try:
        validated = validate_upload(uploaded)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert validated.extension == "zip"
    assert peak < 4 * MIB, peak


# --- programs and scripts inside an archive ----------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "setup.exe",
        "SETUP.EXE",
        "Facture 2025.pdf.exe",
        "setup.exe.",  # Windows drops the final dot
        "lancer.cmd ",  # and the final space
        "outils/installer.msi",
        "lancer.bat",
        "script.ps1",
        "macro.vbs",
        "macro.js",
        "raccourci.lnk",
        "raccourci.url",
        "page.hta",
        "programme.jar",
        "install.sh",
        "module.dll",
        "ecran.scr",
        "cle.reg",
        "paquet.apk",
        "image.iso",
        "Outil.app/Contents/Info.plist",  # a macOS application is a folder
    ],
)
def test_an_archive_holding_a_program_or_a_script_by_name_is_refused(upload, entry):
    refused = refusal(upload("annexes.zip", zip_holding(entry)))
    assert refused.code == "executable_entry"
    assert str(refused) == f"« annexes.zip » est refusé : l'archive contient un programme ou un script (« {entry} »)."


@pytest.mark.parametrize(
    ("entry", "content"),
    [
        pytest.param("facture.pdf", portable_executable(), id="windows"),
        pytest.param("donnees.bin", Path(sys.executable).resolve().read_bytes()[: 512 * 1024], id="linux"),
        pytest.param("outil", b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(4096), id="macos"),
        pytest.param("ancien.dat", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200), id="dos"),
        pytest.param("lisez-moi.txt", b"#!/bin/sh\nrm -rf ~\n", id="shell-script"),
        pytest.param("rapport", b"#! /usr/bin/env python3\nimport os\n", id="python-script"),
        pytest.param("annexe.pdf", WINDOWS_SHORTCUT + bytes(60), id="shortcut"),
    ],
)
def test_an_archive_holding_a_program_or_a_script_by_content_is_refused(upload, entry, content):
    refused = refusal(upload("annexes.zip", zip_holding(entry, content)))
    assert refused.code == "executable_entry"
    assert str(refused) == f"« annexes.zip » est refusé : l'archive contient un programme ou un script (« {entry} »)."


@pytest.mark.parametrize(
    ("entry", "content"),
    [
        ("villes.txt", b"MZ est un code de ville.\n"),
        ("notes.txt", b"#!important : relire avant envoi\n"),
        ("www.exemple.com/index.html", b"<html><body>Page enregistree</body></html>"),
        ("rapport.exe.pdf", sample("valid.pdf")),
        ("notes.js.txt", b"Notes de la reunion.\n"),
        ("annexes/tableau.xlsx", sample("valid.xlsx")),
    ],
)
def test_documents_that_only_look_like_programs_are_accepted(upload, entry, content):
    assert validate_upload(upload("annexes.zip", zip_holding(entry, content))).extension == "zip"
