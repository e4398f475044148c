"""Private notes never leave the agencies (issue 12): a marker written in every body's and every consolidated
private note is searched in everything an establishment user can get at every step of the campaign — its pages
(contract, tree, each question), the report's files (PDF text), the workbook, the e-mails — and in the audit trail.
"""

import io
import re
import zipfile

import pypdf
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from contracts.enums import MembershipRole
from evaluation import reports
from evaluation.display import question_url
from evaluation.enums import EvaluatingBody, Verdict
from evaluation.models import Consolidation, Decision, IndicatorValue, SelfEvaluation
from tests.contracts.factories import MembershipFactory
from tests.evaluation.test_consolidation import PRIVATE, World


@pytest.fixture
def world(ej):
    world = World(ej)
    world.signataire = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    world.lecteur = MembershipFactory(ej=ej, role=MembershipRole.LECTEUR).user
    for code, bodies in (("1.a", ["ars"]), ("1.b", ["ars", "am"]), ("1.c", ["ars", "omedit"]), ("2.a", ["am"])):
        for body in bodies:
            world.decide(code, EvaluatingBody(body), Verdict.NON_ATTEINT, f"Motivation {body} {code}.", PRIVATE)
    for code in world.values:
        world.consolidate(code, Verdict.NON_ATTEINT, f"Motivation consolidée {code}.", PRIVATE)
    return world


def pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", " ", text)


def everything_the_establishment_gets(client, world) -> dict[str, str]:
    """Every page and file an establishment member can open on this self-evaluation, as text."""
    self_evaluation = SelfEvaluation.objects.select_related("contract__ej", "campaign").get(
        pk=world.self_evaluation.pk
    )
    contract = self_evaluation.contract
    outputs = {}
    pages = {
        "EJ": reverse("contracts:ej_detail", args=[contract.ej.public_id]),
        "contrat": reverse("contracts:contract_detail", args=[contract.public_id]),
        "arbre": reverse("evaluation:indicators", args=[self_evaluation.public_id]),
    }
    for value in IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related("indicator"):
        value.self_evaluation = self_evaluation
        pages[f"question {value.indicator.code}"] = question_url(value)
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        outputs[name] = response.content.decode()
    workbook = client.get(reverse("evaluation:workbook_download", args=[self_evaluation.public_id]))
    if workbook.status_code == 200:
        with zipfile.ZipFile(
            io.BytesIO(b"".join(workbook.streaming_content if workbook.streaming else [workbook.content]))
        ) as archive:
            outputs["classeur"] = " ".join(
                archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
            )
    for report in self_evaluation.reports.filter(sent_at__isnull=False):
        response = client.get(reverse("evaluation:report_download", args=[self_evaluation.public_id, report.version]))
        assert response.status_code == 200
        outputs[f"rapport v{report.version}"] = pdf_text(b"".join(response.streaming_content))
    return outputs


def assert_nowhere(outputs: dict[str, str]):
    leaks = [name for name, text in outputs.items() if PRIVATE in text or re.search("note interne", text, re.I)]
    assert leaks == []


def test_private_notes_never_reach_the_establishment_nor_the_audit_trail(
    client_for, world, django_capture_on_commit_callbacks
):
    ars = world.ars
    for user in (world.signataire, world.lecteur):
        assert_nowhere(everything_the_establishment_gets(client_for(user), world))

    with django_capture_on_commit_callbacks(execute=True):
        reports.send_report(
            world.self_evaluation, acting_user=ars, deadline=timezone.localdate() + timezone.timedelta(days=20)
        )
    for user in (world.signataire, world.lecteur):
        outputs = everything_the_establishment_gets(client_for(user), world)
        # The report is there, with the consolidated motivations: the search is not vacuous.
        assert "Motivation consolidée 1.a." in outputs["rapport v1"]
        assert_nowhere(outputs)
    assert mail.outbox, "the signataires were e-mailed"
    for message in mail.outbox:
        assert PRIVATE not in message.subject + message.body
        for alternative, _ in getattr(message, "alternatives", []):
            assert PRIVATE not in alternative
        assert not message.attachments

    assert Decision.objects.filter(private_note=PRIVATE).count() == 6
    assert Consolidation.objects.filter(private_note=PRIVATE).count() == 4
    assert PRIVATE not in str(list(AuditEvent.objects.values_list("data", "object_repr")))
