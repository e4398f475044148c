import hashlib

import factory
from django.core.files.base import ContentFile

from documents.models import Attachment, Document
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory
from tests.evaluation.factories import IndicatorValueFactory


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    ej = factory.SubFactory(EntiteJuridiqueFactory)
    file = factory.LazyFunction(lambda: ContentFile(PDF_BYTES, name="piece.pdf"))
    original_name = factory.Sequence(lambda n: f"Pièce justificative {n}.pdf")
    size = len(PDF_BYTES)
    sha256 = hashlib.sha256(PDF_BYTES).hexdigest()
    mime_type = "application/pdf"
    uploaded_by = factory.SubFactory(UserFactory)


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    document = factory.SubFactory(DocumentFactory)
    indicator_value = factory.SubFactory(IndicatorValueFactory)
    attached_by = factory.SelfAttribute("document.uploaded_by")
