"""Grey dots, « non modifiable par vous » (issue 11, item 3): on a question that the ARS, the Assurance Maladie
or the OMEDIT fills, an establishment user is offered no document control and cannot confide it, and a forged
request to each endpoint is refused, audited, with nothing stored. The one rule is `Abilities.edit(question)`.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from documents.models import Document
from evaluation import attachments, services
from evaluation.enums import AssignmentScope, FilledBy
from evaluation.models import Attachment, IndicatorValue
from tests.contracts.factories import ContractFactory, MembershipFactory
from tests.documents import conftest as documents_conftest
from tests.documents.corpus import sample, stored_files
from tests.evaluation.factories import (
    AttachmentFactory,
    IndicatorValueFactory,
    NodeFactory,
    SelfEvaluationFactory,
)


PDF = sample("valid.pdf")
OTHERS = [FilledBy.ARS, FilledBy.AM, FilledBy.OMEDIT]
WHO = {FilledBy.ARS: "l'ARS", FilledBy.AM: "l'Assurance Maladie", FilledBy.OMEDIT: "l'OMEDIT"}

storage_dir = documents_conftest.storage_dir


@pytest.fixture
def self_evaluation(ej):
    """Open today, to the signataire `member` of `ej`."""
    return SelfEvaluationFactory(contract=ContractFactory(ej=ej))


def question(self_evaluation, filled_by, objective=None):
    return IndicatorValueFactory(
        self_evaluation=self_evaluation,
        indicator=NodeFactory(
            referential=self_evaluation.campaign.referential, oui_non=True, filled_by=filled_by, parent=objective
        ),
    )


@pytest.fixture(params=OTHERS)
def grey(request, self_evaluation):
    """A question of the open self-evaluation that somebody else than the establishment fills."""
    return question(self_evaluation, request.param)


def url(name, value, *more):
    return reverse(f"evaluation:{name}", args=[value.self_evaluation.public_id, value.indicator.code, *more])


def refusals(user):
    return AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED, actor=user)


def assert_refusal_audited(user, value, action):
    [event] = refusals(user)
    assert event.data["action"] == action
    assert event.data["code"] == value.indicator.code
    assert f"renseignée par {WHO[value.indicator.filled_by]}" in event.data["reason"]


def test_the_page_offers_no_document_control_and_no_confide(client_for, member, grey):
    """Even a document already listed there (the question changed hands in the referential) is not withdrawn."""
    document = AttachmentFactory(
        document__ej=grey.self_evaluation.contract.ej, indicator_value=grey, attached_by=member
    ).document
    # Something the establishment could join elsewhere: not offered here.
    AttachmentFactory(
        document__ej=grey.self_evaluation.contract.ej,
        indicator_value=question(grey.self_evaluation, FilledBy.ETABLISSEMENT),
    )
    page = client_for(member).get(url("question", grey))

    assert page.status_code == 200
    assertContains(page, document.original_name)  # listed and downloadable, as for a reader
    assertContains(page, "Récupérer tous les documents")
    assertNotContains(page, 'id="documents-fichiers"')
    assertNotContains(page, "Ajouter document")
    assertNotContains(page, "Joindre un document déjà déposé")
    assertNotContains(page, "Retirer<span")
    assertNotContains(page, "Confier la question")


def test_the_same_page_offers_them_on_a_question_of_the_establishment(client_for, member, self_evaluation):
    page = client_for(member).get(url("question", question(self_evaluation, FilledBy.ETABLISSEMENT)))
    assertContains(page, 'id="documents-fichiers"')
    assertContains(page, "Confier la question")


def test_a_forged_upload_is_refused_and_nothing_is_stored(client_for, member, grey, storage_dir):
    client = client_for(member)
    response = client.post(url("question_upload", grey), {"documents": [SimpleUploadedFile("bilan.pdf", PDF)]})

    assert response.status_code == 409
    who = escape(WHO[grey.indicator.filled_by])
    assertContains(response, f"Cette question est renseignée par {who}, non par l&#x27;établissement", status_code=409)
    assertContains(response, "Aucun fichier n'a été enregistré.", status_code=409)
    assert not Document.objects.exists() and stored_files(storage_dir) == []
    assert_refusal_audited(member, grey, "upload")

    fragment = client.post(
        url("question_upload", grey),
        {"documents": [SimpleUploadedFile("bilan.pdf", PDF)]},
        headers={"X-Ecars-Fragment": "documents"},
    )
    assert fragment.status_code == 409
    assertNotContains(fragment, 'id="documents-fichiers"', status_code=409)
    assert not Document.objects.exists() and stored_files(storage_dir) == []


def test_a_forged_attach_is_refused_and_nothing_is_stored(client_for, member, grey):
    elsewhere = question(grey.self_evaluation, FilledBy.ETABLISSEMENT)
    document = AttachmentFactory(document__ej=grey.self_evaluation.contract.ej, indicator_value=elsewhere).document

    response = client_for(member).post(url("question_attach", grey), {"document": str(document.public_id)})

    assert response.status_code == 409
    assertContains(response, "vous ne pouvez pas y ajouter, y joindre ni en retirer de document", status_code=409)
    assert not Attachment.objects.filter(indicator_value=grey).exists()
    assert_refusal_audited(member, grey, "attach")


def test_a_forged_withdraw_is_refused_and_nothing_changes(client_for, member, grey):
    attachment = AttachmentFactory(
        document__ej=grey.self_evaluation.contract.ej, indicator_value=grey, attached_by=member
    )

    response = client_for(member).post(url("question_withdraw", grey, attachment.document.public_id))

    assert response.status_code == 409
    assertContains(response, "Document non retiré", status_code=409)
    attachment.refresh_from_db()
    assert attachment.withdrawn_at is None and attachment.withdrawn_by is None
    assert_refusal_audited(member, grey, "withdraw")


@pytest.mark.parametrize("scope", AssignmentScope.values)
def test_a_forged_confide_is_refused_and_nothing_is_assigned(client_for, member, ej, grey, scope):
    colleague = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR)
    client = client_for(member)

    response = client.post(url("question", grey), {"assign": "1", "assignee": colleague.pk, "scope": scope})

    assert response.status_code == 302
    assertContains(client.get(url("question", grey)), "elle ne peut pas être confiée à un collègue")
    assert not IndicatorValue.objects.filter(assigned_to__isnull=False).exists()
    assert_refusal_audited(member, grey, "assign")


def test_confiding_an_objective_leaves_out_the_questions_others_fill(client_for, member, ej, self_evaluation):
    """The decision: the questions of the objective that the establishment fills are confided, the others are
    skipped (they are not the establishment's to answer), and the count says how many were confided."""
    objective = NodeFactory(referential=self_evaluation.campaign.referential)
    mine = question(self_evaluation, FilledBy.ETABLISSEMENT, objective)
    sibling = question(self_evaluation, FilledBy.ETABLISSEMENT, objective)
    others = [question(self_evaluation, filled_by, objective) for filled_by in OTHERS]
    colleague = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR)
    client = client_for(member)

    client.post(url("question", mine), {"assign": "1", "assignee": colleague.pk, "scope": "objectif"})

    assigned = set(IndicatorValue.objects.filter(assigned_to=colleague.user).values_list("pk", flat=True))
    assert assigned == {mine.pk, sibling.pk}
    assert not IndicatorValue.objects.filter(pk__in=[value.pk for value in others], assigned_to__isnull=False).exists()
    assertContains(client.get(url("question", mine)), "2 questions confiées.")
    [event] = AuditEvent.objects.filter(event_type=EventType.QUESTIONS_ASSIGNED)
    assert sorted(event.data["codes"]) == sorted([mine.indicator.code, sibling.indicator.code])
    assert not refusals(member).exists()


@pytest.mark.parametrize("filled_by", OTHERS)
def test_the_services_refuse_too(member, self_evaluation, filled_by):
    """Commands and the admin go through the same services: the same refusals."""
    grey = question(self_evaluation, filled_by)
    document = AttachmentFactory(
        document__ej=self_evaluation.contract.ej, indicator_value=question(self_evaluation, FilledBy.ETABLISSEMENT)
    ).document
    with pytest.raises(services.WriteRefused):
        attachments.upload_to_question(SimpleUploadedFile("bilan.pdf", PDF), value=grey, acting_user=member)
    with pytest.raises(services.WriteRefused):
        attachments.attach_existing(document, value=grey, acting_user=member)
    with pytest.raises(services.WriteRefused):
        services.assign_questions([grey], assignee=member, acting_user=member)
    assert Document.objects.count() == 1
    assert not Attachment.objects.filter(indicator_value=grey).exists()
    assert not IndicatorValue.objects.filter(assigned_to__isnull=False).exists()
    assert refusals(member).count() == 3
