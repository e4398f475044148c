"""The question's documents (« Documents de l'indicateur »): add one under a question, attach one already
stored, withdraw one; and what `evaluation` answers to the hooks of documents/hooks.py.

Views and commands go through these functions. The file itself is validated, stored and queued for the
antivirus by `documents.services.upload_document`; here are the rules of the question: the writing
lock of the self-evaluation (a document is either in before the closure, or refused), who may withdraw,
which documents may be attached again.

The question's rule is `Abilities.edit`: on a question that the ARS, the Assurance Maladie or the OMEDIT
answers (a grey dot), the establishment adds, attaches and withdraws nothing. Every WriteRefused is audited
by `evaluation.services.record_refused_write`, once the refused transaction is rolled back.
"""

import contextlib

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from documents.enums import ScanStatus
from documents.models import Document
from documents.services import DocumentRefused, create_document, upload_document
from ecars.lib.http import RequestContext
from evaluation.models import Attachment, SelfEvaluation
from evaluation.perms import abilities_for
from evaluation.services import WriteRefused, filled_elsewhere, lock_for_editing, record_refused_write


__all__ = ["DocumentRefused", "WriteRefused"]

CLOSED_MESSAGE = (
    "Impossible d'ajouter un document : cette auto-évaluation n'est pas ouverte à votre saisie "
    "(elle est close, hors calendrier, ou votre rôle ne permet que la consultation)."
)


# After `filled_elsewhere(…)`: what the establishment may not do on a question it does not answer.
NOT_YOURS = "vous ne pouvez pas y ajouter, y joindre ni en retirer de document."


def _check_can_edit(value, acting_user):
    """The same rule as `lock_for_editing`, checked before the file is stored (no lock yet)."""
    can = abilities_for(value.self_evaluation, acting_user)
    if not can.write:
        raise WriteRefused(CLOSED_MESSAGE)
    if not can.edit(value):
        raise WriteRefused(f"{filled_elsewhere(value.indicator)} : {NOT_YOURS}")


def _lock(value, acting_user):
    return lock_for_editing(value, acting_user=acting_user, refusal=NOT_YOURS)


@contextlib.contextmanager
def _refusal_audited(action, *, value, acting_user, context, document=None):
    """Audit a WriteRefused raised inside (wrap the whole service: its transaction is rolled back by then)."""
    try:
        yield
    except WriteRefused as refusal:
        data = {"action": action, "code": value.indicator.code, "reason": str(refusal)}
        if document is not None:
            data["name"] = document.original_name
        record_refused_write(value.self_evaluation, acting_user=acting_user, target=value, data=data, context=context)
        raise


def upload_to_question(
    uploaded_file, *, value, acting_user, upload_token=None, context: RequestContext | None = None
) -> Document:
    """« Ajouter document » under a question: validated, stored, listed, and queued for the antivirus.

    Raises UploadRefused (the file) or WriteRefused (closed, calendar, role, a question the establishment
    does not answer; audited) with nothing stored. `value.self_evaluation` is expected to be loaded with its
    contract and EJ, and `value.indicator` loaded.
    """
    with _refusal_audited("upload", value=value, acting_user=acting_user, context=context):
        return _upload_to_question(
            uploaded_file, value=value, acting_user=acting_user, upload_token=upload_token, context=context
        )


def _upload_to_question(uploaded_file, *, value, acting_user, upload_token, context) -> Document:
    self_evaluation = value.self_evaluation
    _check_can_edit(value, acting_user)

    def create_rows(fields):
        # The lock serialises uploads with the closure: a document is either in before it, or refused.
        _lock(value, acting_user)
        document = create_document(
            fields, acting_user=acting_user, context=context, event_data={"code": value.indicator.code}
        )
        Attachment.objects.create(document=document, indicator_value=value, attached_by=acting_user)
        return document

    return upload_document(
        uploaded_file,
        ej=self_evaluation.contract.ej,
        acting_user=acting_user,
        upload_token=upload_token,
        context=context,
        create_rows=create_rows,
    )


def attachable_documents(value):
    """What « Joindre un document déjà déposé » offers: the EJ's question documents, any year, not yet
    listed under this question and not quarantined."""
    ej_id = value.self_evaluation.contract.ej_id
    listed_here = Attachment.objects.filter(indicator_value=value, withdrawn_at__isnull=True).values("document_id")
    return (
        Document.objects.filter(ej_id=ej_id, contract__isnull=True, attachments__isnull=False)
        .exclude(scan_status=ScanStatus.INFECTE)
        .exclude(pk__in=listed_here)
        .distinct()
    )


def attach_existing(document, *, value, acting_user, context: RequestContext | None = None) -> Attachment:
    """List an already uploaded document under one more question: no new copy is stored.

    Raises DocumentRefused (not attachable here) or WriteRefused (audited), with nothing changed."""
    with _refusal_audited("attach", value=value, acting_user=acting_user, context=context, document=document):
        return _attach_existing(document, value=value, acting_user=acting_user, context=context)


@transaction.atomic
def _attach_existing(document, *, value, acting_user, context) -> Attachment:
    self_evaluation = value.self_evaluation
    _lock(value, acting_user)
    if not attachable_documents(value).filter(pk=document.pk).exists():
        raise DocumentRefused("Ce document ne peut pas être joint à cette question.")
    attachment, created = Attachment.objects.get_or_create(
        document=document, indicator_value=value, defaults={"attached_by": acting_user}
    )
    if not created:
        # It had been withdrawn from this question: it comes back, and the history keeps both steps.
        attachment.withdrawn_at = None
        attachment.withdrawn_by = None
        attachment.attached_by = acting_user
        attachment.save(update_fields=["withdrawn_at", "withdrawn_by", "attached_by"])
    record_event(
        EventType.DOCUMENT_ATTACHED,
        actor=acting_user,
        ej=self_evaluation.contract.ej,
        target=document,
        data={"name": document.original_name, "code": value.indicator.code},
        context=context,
    )
    return attachment


def withdraw(attachment, *, acting_user, context: RequestContext | None = None) -> Attachment:
    """« Retirer »: the document leaves the question's list but stays stored and in the history.

    Only whoever put it there, in the current year, while the self-evaluation is open to them, on a question
    the establishment answers. Raises DocumentRefused or WriteRefused (audited), with nothing changed.
    """
    value = attachment.indicator_value
    with _refusal_audited(
        "withdraw", value=value, acting_user=acting_user, context=context, document=attachment.document
    ):
        return _withdraw(attachment, acting_user=acting_user, context=context)


@transaction.atomic
def _withdraw(attachment, *, acting_user, context) -> Attachment:
    value = attachment.indicator_value
    self_evaluation = value.self_evaluation
    if not self_evaluation.is_current():
        raise DocumentRefused("Les documents des années précédentes ne peuvent pas être retirés.")
    _lock(value, acting_user)
    locked = Attachment.objects.select_for_update().get(pk=attachment.pk)
    if locked.withdrawn_at is not None:
        raise DocumentRefused("Ce document a déjà été retiré de cette question.")
    if locked.attached_by_id != acting_user.pk:
        raise DocumentRefused("Seule la personne qui a ajouté ce document peut le retirer.")
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_by = acting_user
    locked.save(update_fields=["withdrawn_at", "withdrawn_by"])
    record_event(
        EventType.DOCUMENT_WITHDRAWN,
        actor=acting_user,
        ej=self_evaluation.contract.ej,
        target=attachment.document,
        data={"name": attachment.document.original_name, "code": value.indicator.code},
        context=context,
    )
    return locked


# What `documents` asks of `evaluation` (documents/hooks.py, registered in evaluation/apps.py)


def contract_archive_entries(contract) -> list[tuple[str, Document]]:
    """The questions' documents in the contract's ZIP: « <year>/<code>[ - <FINESS of the ET>]/<name> »,
    by year, then question code, then the order they were added in. Withdrawn ones stay out."""
    attachments = (
        Attachment.objects.filter(indicator_value__self_evaluation__contract=contract, withdrawn_at__isnull=True)
        .select_related(
            "document",
            "indicator_value__indicator",
            "indicator_value__etablissement",
            "indicator_value__self_evaluation__campaign",
        )
        .order_by(
            "indicator_value__self_evaluation__campaign__year", "indicator_value__indicator__code", "attached_at"
        )
    )
    entries = []
    for attachment in attachments:
        value = attachment.indicator_value
        folder = value.indicator.code
        if value.etablissement:
            folder += f" - {value.etablissement.finess}"
        year = value.self_evaluation.campaign.year
        entries.append((f"{year}/{folder}/{attachment.document.original_name}", attachment.document))
    return entries


def contract_year(contract) -> int | None:
    """The evaluated year of the contract's latest campaign (None before its first self-evaluation): the
    contract's ZIP is named after it."""
    return SelfEvaluation.objects.filter(contract=contract).aggregate(year=Max("campaign__year"))["year"]


def contract_has_question_documents(contract) -> bool:
    """Whether a document was ever listed under a question of the contract (one EXISTS, from the
    contract's own self-evaluations: never a scan of every document)."""
    return Attachment.objects.filter(indicator_value__self_evaluation__contract=contract).exists()


def document_question_contracts(document):
    """The contracts of the questions the document is (or was) listed under, as a subquery of their pks."""
    return Attachment.objects.filter(document=document).values("indicator_value__self_evaluation__contract_id")
