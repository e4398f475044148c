"""The whole path on a real S3 (SeaweedFS): upload through the page, download and ZIP through the views."""

import hashlib
import io
import os
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents.models import Document
from tests.contracts.factories import ContractFactory
from tests.documents import conftest_s3
from tests.documents.corpus import sample
from tests.evaluation.factories import IndicatorValueFactory, SelfEvaluationFactory


# The SeaweedFS fixtures (tests/documents/conftest_s3.py), made visible to pytest in this module.
s3_server = conftest_s3.s3_server
s3_storage = conftest_s3.s3_storage


def test_an_upload_round_trips_through_s3_with_its_sha256(client_for, member, ej, s3_storage, s3_server):
    value = IndicatorValueFactory(self_evaluation=SelfEvaluationFactory(contract=ContractFactory(ej=ej)))
    # A PDF of 3 Mo: above the upload handler's memory threshold, so it is spooled, then streamed to S3.
    pdf = sample("valid.pdf")
    content = pdf[:-6] + os.urandom(3 * 1024 * 1024) + pdf[-6:]
    client = client_for(member)

    client.post(
        reverse("evaluation:question_upload", args=[value.self_evaluation.public_id, value.indicator.code]),
        {"documents": [SimpleUploadedFile("Rapport annuel.pdf", content)]},
    )

    document = Document.objects.get()
    expected = hashlib.sha256(content).hexdigest()
    assert document.sha256 == expected
    stored = s3_server.client().get_object(Bucket=s3_server.bucket, Key=document.file.name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == expected

    response = client.get(reverse("documents:download", args=[document.public_id]))
    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == expected

    archive = client.get(
        reverse("evaluation:question_zip", args=[value.self_evaluation.public_id, value.indicator.code])
    )
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as opened:
        assert hashlib.sha256(opened.read("Rapport annuel.pdf")).hexdigest() == expected


def test_a_document_missing_from_s3_is_reported_not_crashed(client_for, member, ej, s3_storage, s3_server, caplog):
    value = IndicatorValueFactory(self_evaluation=SelfEvaluationFactory(contract=ContractFactory(ej=ej)))
    client = client_for(member)
    client.post(
        reverse("evaluation:question_upload", args=[value.self_evaluation.public_id, value.indicator.code]),
        {"documents": [SimpleUploadedFile("Bilan.pdf", sample("valid.pdf"))]},
    )
    document = Document.objects.get()
    s3_server.client().delete_object(Bucket=s3_server.bucket, Key=document.file.name)

    response = client.get(reverse("documents:download", args=[document.public_id]))

    assert response.status_code == 503
    assert "illisible" in caplog.text
