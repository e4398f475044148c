"""Who may do what with documents: download one (the antivirus verdict), add one to a contract (the ARS).

The view's own lookup decides whether the user may see the document at all (its EJ, its region).
"""

from contracts.perms import may
from documents.antivirus import scanning_enabled
from documents.enums import ScanStatus
from documents.models import Document


def may_download(document: Document, user=None) -> bool:
    """Whether the antivirus verdict lets `user` download the document (on top of the view's authorisation).

    Scanning enabled: « sain » only, for everybody alike. The uploader already has the file, and an
    agent opening an unscanned file on an ARS workstation is precisely what the scan is there to
    prevent; « Récupérer tous les documents » leaves the others out and says why.

    Scanning disabled (no clamd configured, e.g. the demo): pending documents are downloadable, since
    no verdict will ever come. A document « en erreur » (scanned once, when a clamd was configured)
    or « infecté » never is. The verdict is the same for every reader: `user` is
    accepted for callers that have one.
    """
    if document.scan_status == ScanStatus.SAIN:
        return True
    return document.scan_status == ScanStatus.EN_ATTENTE and not scanning_enabled()


def may_add_contract_documents(user, contract) -> bool:
    """« Ajouter document » on a contract: the `upload` power of the privilege table, in the contract's region."""
    return may(user, "documents.document", "upload", ej=contract.ej)
