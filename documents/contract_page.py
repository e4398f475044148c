"""« Documents du contrat », the block `documents` adds to the contract page through the `contract_page`
hook of contracts/hooks.py (registered in documents/apps.py): `contracts` knows nothing of documents."""

import uuid

from contracts.hooks import Block
from documents import hooks
from documents.antivirus import scanning_enabled
from documents.models import Document
from documents.perms import may_add_contract_documents, may_download
from documents.validation import ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS


def documents_block(request, contract) -> Block:
    """The contract's own documents (each with whether this user may download it now), the ARS's upload
    form, and « Récupérer tous les documents » when the contract has any document, its own or a question's."""
    documents = list(Document.objects.filter(contract=contract).select_related("uploaded_by").order_by("-uploaded_at"))
    user = request.user
    context = {
        "contract": contract,
        "documents": [(document, may_download(document, user)) for document in documents],
        # Its own documents are already at hand: the apps built on `documents` are asked only without them.
        "has_any_document": bool(documents) or any(hooks.contract_has_other_documents.collect(contract)),
        "may_add_documents": may_add_contract_documents(user, contract),
        "show_macros": user.is_agency_staff or user.is_superuser,
        "scanning": scanning_enabled(),
        "upload_token": uuid.uuid4(),
        "accept": ACCEPT_ATTRIBUTE,
        "accepted_formats": ACCEPTED_FORMATS,
    }
    return Block("documents/_contract_documents.html", context, "body")
