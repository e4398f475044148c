import hashlib

import factory
from django.core.files.base import ContentFile

from documents.models import Document
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document stored in the documents storage; `content` gives its bytes (size and SHA-256 follow)."""

    class Meta:
        model = Document

    class Params:
        content = PDF_BYTES

    ej = factory.SubFactory(EntiteJuridiqueFactory)
    file = factory.LazyAttribute(lambda document: ContentFile(document.content, name="piece.pdf"))
    original_name = factory.Sequence(lambda n: f"Pièce justificative {n}.pdf")
    size = factory.LazyAttribute(lambda document: len(document.content))
    sha256 = factory.LazyAttribute(lambda document: hashlib.sha256(document.content).hexdigest())
    mime_type = "application/pdf"
    uploaded_by = factory.SubFactory(UserFactory)
