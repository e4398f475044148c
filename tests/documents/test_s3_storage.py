"""The documents storage on a real S3 (SeaweedFS `weed mini`, tests/s3.py): SECURITY.md E6, R4, R5.

Every test points STORAGES["documents"] at SeaweedFS with the options ecars/settings.py builds for
DOCUMENTS_STORAGE=s3, then goes through the models' FileFields and reads the bucket with boto3.
"""

import hashlib
import http.client
import os
import re
import runpy
import tracemalloc
from urllib.parse import parse_qs, urlsplit

from botocore.config import Config
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile

from documents.integrity import file_digest
from documents.models import documents_storage
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory
from tests.documents import conftest_s3
from tests.documents.factories import PDF_BYTES, DocumentFactory
from tests.evaluation.factories import ClosureReceiptFactory
from tests.s3 import SETTINGS_FILE


# The SeaweedFS fixtures (tests/documents/conftest_s3.py), made visible to pytest in this module.
s3_server = conftest_s3.s3_server
s3_storage = conftest_s3.s3_storage


DOCUMENT_KEY = re.compile(r"^documents/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
RECEIPT_KEY = re.compile(r"^receipts/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.pdf$")
MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_with(content: bytes, name: str = "Rapport d'activité 2025.pdf"):
    return DocumentFactory(content=content, original_name=name)


def stored_bytes(s3_server, key: str) -> bytes:
    """The object's bytes, read with boto3 straight from the bucket (not through the storage)."""
    return s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()


def http_get(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_s3_timeouts_and_retries_come_from_the_environment(monkeypatch):
    for name, value in {
        "DOCUMENTS_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "ecars",
        "AWS_S3_CONNECT_TIMEOUT": "2",
        "AWS_S3_READ_TIMEOUT": "7",
        "AWS_S3_MAX_ATTEMPTS": "4",
    }.items():
        monkeypatch.setenv(name, value)

    options = runpy.run_path(str(SETTINGS_FILE))["STORAGES"]["documents"]["OPTIONS"]

    config = options["client_config"]
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (2, 7, 4)
    assert options["transfer_config"].multipart_threshold > 20 * MiB  # one streamed PUT per document


def test_the_storage_has_the_production_options(s3_storage, s3_server):
    assert type(s3_storage).__module__ == "storages.backends.s3"
    assert documents_storage().bucket_name == s3_server.bucket  # what the FileFields use
    assert s3_storage.bucket_name == s3_server.bucket
    assert s3_storage.endpoint_url == s3_server.endpoint_url
    assert s3_storage.region_name == "us-east-1"
    assert s3_storage.file_overwrite is False
    assert s3_storage.default_acl is None
    assert s3_storage.querystring_auth is True
    assert s3_storage.querystring_expire <= 300
    # django-storages ignores its own addressing_style and signature_version options when
    # client_config is given: they must be in the Config itself (SECURITY.md R5 timeouts too).
    config: Config = s3_storage.client_config
    assert config.s3 == {"addressing_style": "path"}
    assert config.signature_version == "s3v4"
    assert 0 < config.connect_timeout <= 10
    assert 0 < config.read_timeout <= 60
    assert config.retries["mode"] == "standard"
    assert 1 <= config.retries["total_max_attempts"] <= 5
    client_config = s3_storage.connection.meta.client.meta.config
    assert client_config.s3["addressing_style"] == "path"
    assert client_config.signature_version == "s3v4"


def test_a_document_round_trips_under_a_random_key(s3_storage, s3_server):
    content = os.urandom(50_000)
    document = document_with(content)

    assert DOCUMENT_KEY.match(document.file.name)
    assert stored_bytes(s3_server, document.file.name) == content
    with s3_storage.open(document.file.name, "rb") as f:
        assert sha256(f.read()) == document.sha256
    document.refresh_from_db()
    with document.file.open("rb") as f:
        assert sha256(b"".join(f.chunks())) == document.sha256
    assert s3_storage.size(document.file.name) == document.size


def test_the_key_never_contains_the_original_name(s3_storage, s3_server):
    name = "../../Évaluation CAQES – CHU (version finale).pdf"
    document = document_with(PDF_BYTES, name=name)

    assert DOCUMENT_KEY.match(document.file.name)
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=s3_server.bucket)
    keys = [o["Key"] for page in pages for o in page.get("Contents", ())]
    assert document.file.name in keys
    assert not [key for key in keys if "valuation" in key or "CHU" in key or ".." in key]


def test_two_files_with_the_same_name_get_two_keys_and_two_objects(s3_storage, s3_server):
    first = document_with(b"%PDF-1.4 first", name="piece.pdf")
    second = document_with(b"%PDF-1.4 second", name="piece.pdf")

    assert first.file.name != second.file.name
    assert stored_bytes(s3_server, first.file.name) == b"%PDF-1.4 first"
    assert stored_bytes(s3_server, second.file.name) == b"%PDF-1.4 second"


def test_saving_to_an_existing_key_never_overwrites_it(s3_storage, s3_server):
    document = document_with(b"%PDF-1.4 original")

    new_name = s3_storage.save(document.file.name, ContentFile(b"%PDF-1.4 replacement"))

    assert new_name != document.file.name
    assert new_name.startswith(document.file.name)  # django's « name_<random> » alternative
    assert stored_bytes(s3_server, document.file.name) == b"%PDF-1.4 original"
    assert stored_bytes(s3_server, new_name) == b"%PDF-1.4 replacement"


def test_anonymous_reads_are_refused_and_signed_urls_expire_within_five_minutes(s3_storage, s3_server):
    document = document_with(PDF_BYTES)

    status, body = http_get(s3_server.object_url(document.file.name))
    assert status == 403
    assert b"AccessDenied" in body
    # Listing the bucket anonymously is refused too.
    assert http_get(f"{s3_server.endpoint_url}/{s3_server.bucket}")[0] == 403

    signed = s3_storage.url(document.file.name)
    query = parse_qs(urlsplit(signed).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert 0 < int(query["X-Amz-Expires"][0]) <= 300
    assert http_get(signed) == (200, PDF_BYTES)


def test_a_20_mo_upload_streams_from_its_temporary_file(s3_storage, s3_server, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    size = 20 * MiB
    upload = TemporaryUploadedFile("Gros rapport.pdf", "application/pdf", size, None)
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    for i in range(20):
        chunk = i.to_bytes(4, "big") + block[4:]
        digest.update(chunk)
        upload.write(chunk)
    upload.seek(0)
    # What a worker builds once, not per upload: boto3's client and resource models, mimetypes' table.
    s3_storage.save("warm-up/small", ContentFile(b"%PDF-1.4"))
    ej, user = EntiteJuridiqueFactory(), UserFactory()

    tracemalloc.start()
    try:
        document = DocumentFactory(
            ej=ej, uploaded_by=user, file=upload, original_name=upload.name, size=size, sha256=digest.hexdigest()
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()

    assert peak < 4 * MiB, f"upload peak {peak / MiB:.1f} MiB"
    head = s3_server.client().head_object(Bucket=s3_server.bucket, Key=document.file.name)
    assert head["ContentLength"] == size

    # Reading it back (check_documents --verify-hashes, downloads) spools to disk, not to memory.
    tracemalloc.start()
    try:
        read_sha256, read_size = file_digest(s3_storage, document.file.name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (read_sha256, read_size) == (document.sha256, size)
    assert peak < 4 * MiB, f"read peak {peak / MiB:.1f} MiB"


def test_the_closure_receipt_is_stored_in_s3_too(s3_storage, s3_server):
    pdf = b"%PDF-1.7\n% attestation de cloture\n%%EOF\n"
    receipt = ClosureReceiptFactory(content=pdf)

    assert RECEIPT_KEY.match(receipt.file.name)
    assert stored_bytes(s3_server, receipt.file.name) == pdf
    receipt.refresh_from_db()
    with receipt.file.open("rb") as f:
        assert sha256(f.read()) == receipt.file_sha256
    assert http_get(s3_server.object_url(receipt.file.name))[0] == 403


def test_after_an_s3_test_the_documents_storage_is_the_local_test_folder_again(s3_server, settings):
    """The lazy documents storage is reset when the settings override ends: S3 never leaks into other tests."""
    assert documents_storage().location == settings.STORAGES["documents"]["OPTIONS"]["location"]
