"""The URL arguments of the documents pages, for attributing refused accesses (ecars.lib.url_objects)."""

from documents.models import Document
from ecars.lib.url_objects import register


register("document", Document, ej_field="ej", visible_to=Document.objects.for_user)
