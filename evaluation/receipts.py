"""The « attestation de clôture »: the fingerprint of the answers, and the PDF receipt.

Fingerprint of the answers (`answers_digest`)
---------------------------------------------
The answers the closure attests are those of the establishment: every indicator value of the
self-evaluation whose indicator is filled by the establishment (the ones `save_answer` writes), required
or not. Each answer is one JSON object with exactly these keys:

    {"code": indicator code, "finess": FINESS of the ET or "" for the EJ,
     "value": the stored (canonical) réalisé, "not_applicable": true/false,
     "justification": the « non concerné » justification, "comment": the establishment's comment}

The objects are sorted by (code, finess) and serialised as one JSON array with sorted keys, no spaces
(separators "," and ":") and non-ASCII characters written as such (ensure_ascii=False); the SHA-256 of
its UTF-8 bytes, in lowercase hexadecimal, is the fingerprint printed on the receipt. Anyone holding the
answers (the database, an export) recomputes it the same way to check that they are those of the closure.

The PDF is rendered by WeasyPrint from templates/evaluation/receipt.html, with the system fonts and no
network access: any URL in the document makes the rendering fail instead of being fetched.
"""

import hashlib
import json
import zoneinfo

from django.template.loader import render_to_string
from django.utils import timezone

from documents.integrity import Kind
from documents.names import contract_file_name
from evaluation import values
from evaluation.enums import FilledBy
from evaluation.models import ClosureReceipt, IndicatorValue, SelfEvaluation


PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def answer_rows(self_evaluation: SelfEvaluation) -> list[dict]:
    """The establishment's answers, as serialised for the fingerprint (see the module's docstring)."""
    rows = [
        {
            "code": code,
            "finess": finess or "",
            "value": value,
            "not_applicable": not_applicable,
            "justification": justification,
            "comment": comment,
        }
        for code, finess, value, not_applicable, justification, comment in IndicatorValue.objects.filter(
            self_evaluation=self_evaluation, indicator__filled_by=FilledBy.ETABLISSEMENT
        ).values_list(
            "indicator__code",
            "etablissement__finess",
            "value",
            "not_applicable",
            "not_applicable_reason",
            "comment",
        )
    ]
    return sorted(rows, key=lambda row: (row["code"], row["finess"]))


def serialise_answers(rows: list[dict]) -> bytes:
    return json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def answers_digest(self_evaluation: SelfEvaluation) -> str:
    """The SHA-256 (hexadecimal) of the establishment's answers, serialised as the module's docstring says."""
    return hashlib.sha256(serialise_answers(answer_rows(self_evaluation))).hexdigest()


def receipt_context(self_evaluation: SelfEvaluation, *, closed_by, closed_at, tree, digest) -> dict:
    """What the receipt shows; the e-mail that carries it shows the same figures."""
    contract = self_evaluation.contract
    answers = []
    for question in tree.questions:
        if not question.node.is_filled_by_establishment:
            continue
        answer = question.value
        answers.append(
            {
                "code": question.node.code,
                "label": question.node.label,
                "etablissement": (
                    f"{answer.etablissement.finess} - {answer.etablissement.name}" if answer.etablissement else ""
                ),
                "not_applicable": answer.not_applicable,
                "justification": answer.not_applicable_reason,
                "shown": values.display(question.node.value_type, answer.value),
                "comment": answer.comment,
            }
        )
    closed_at_paris = timezone.localtime(closed_at, PARIS)
    return {
        "title": "Attestation de clôture de l'auto-évaluation",
        "ej": contract.ej,
        "contract": contract,
        "campaign": self_evaluation.campaign,
        "closed_on": closed_at_paris.strftime("%d/%m/%Y à %H:%M:%S"),
        # None: closed d'office at the deadline (evaluation.overdue).
        "automatic": closed_by is None,
        "closed_by_name": (closed_by.get_full_name() or closed_by.email) if closed_by else "",
        "closed_by_email": closed_by.email if closed_by else "",
        "filled": tree.filled,
        "total": tree.total,
        "percent": tree.percent,
        "answers": answers,
        "digest": digest,
        "deadline": self_evaluation.deadline,
    }


def receipt_html(self_evaluation: SelfEvaluation, *, closed_by, closed_at, tree, digest) -> str:
    context = receipt_context(self_evaluation, closed_by=closed_by, closed_at=closed_at, tree=tree, digest=digest)
    return render_to_string("evaluation/receipt.html", context)


def render_receipt_pdf(self_evaluation: SelfEvaluation, *, closed_by, closed_at, tree, digest) -> bytes:
    """The attestation de clôture as PDF bytes."""
    import weasyprint  # a heavy import, only needed here

    class NoFetching(weasyprint.urls.URLFetcher):
        """The receipt is self-contained: nothing is fetched, not even a local file."""

        def fetch(self, url, headers=None):
            raise weasyprint.urls.FatalURLFetchingError(f"Ressource externe refusée dans l'attestation : {url}")

    html = receipt_html(self_evaluation, closed_by=closed_by, closed_at=closed_at, tree=tree, digest=digest)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=NoFetching()).write_pdf()


def receipt_filename(self_evaluation: SelfEvaluation) -> str:
    """« attestation-cloture-<FINESS of the EJ>-<contract's name>-<evaluated year>.pdf » (documents/names.py):
    the name of the download and of the e-mail's attachment (the stored file has a random key)."""
    return contract_file_name(
        "attestation-cloture", self_evaluation.contract, self_evaluation.campaign.year, extension="pdf"
    )


# The receipts are kept in the documents storage: `check_documents` checks them with the documents
# (documents/hooks.py `stored_files`, registered in evaluation/apps.py).
RECEIPT_FILES = Kind("attestation de clôture", "receipts", ClosureReceipt, "file", "file_sha256")


def stored_receipts() -> Kind:
    return RECEIPT_FILES
