"""What every page that uploads or downloads documents shares, in `documents` and in the apps above it:
the upload form's token, the archive response, and why a document is not downloadable."""

import logging
import uuid

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from documents.archive import Member, stream_zip
from documents.enums import ScanStatus
from documents.perms import may_download
from ecars.lib.http import protect_user_file


logger = logging.getLogger(__name__)


def upload_token(request) -> uuid.UUID | None:
    """The upload form's token (« jeton »): the same submission sent twice stores one document."""
    try:
        return uuid.UUID(request.POST.get("jeton", ""))
    except ValueError:
        return None


def why_not(document) -> str:
    """Why `may_download` says no, to end « … ne peut pas être téléchargé : » and the archive's LISEZMOI.txt."""
    if document.scan_status == ScanStatus.INFECTE:
        return "mis en quarantaine : l'antivirus y a détecté un virus"
    if document.scan_status == ScanStatus.ERREUR:
        return "l'analyse antivirus n'a pas pu aboutir, elle sera refaite"
    return "en cours d'analyse antivirus"


def zip_response(request, entries, *, filename: str) -> HttpResponse:
    """« Récupérer tous les documents »: the (path in the ZIP, Document) entries that the user may download,
    streamed; the others are named, with the reason, in the archive's LISEZMOI.txt.

    Once streaming has begun, an error can only cut the download short: so the storage is asked first for one of
    the files, and if it does not answer the page says « temporairement indisponible » (503) instead.
    """
    members, excluded = [], []
    for path, document in entries:
        if may_download(document, request.user):
            members.append(Member(path, document))
        else:
            excluded.append(document)
    if members and not _storage_answers(members[0].document):
        return render(request, "documents/storage_unavailable.html", status=503)
    notes = ""
    if excluded:
        lines = [f"- {document.original_name} ({why_not(document)})" for document in excluded]
        notes = "Documents non inclus dans cette archive :\r\n" + "\r\n".join(lines) + "\r\n"
    response = StreamingHttpResponse(stream_zip(members, notes=notes), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return protect_user_file(response)


def _storage_answers(document) -> bool:
    """Whether the documents' storage holds `document`'s file right now (one HEAD on S3)."""
    try:
        return document.file.storage.exists(document.file.name)
    except Exception:
        logger.exception("Stockage des documents indisponible : archive non préparée.")
        return False
