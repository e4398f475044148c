"""The evaluation report: its versions and files, its content (the demo contract « CAQES CLINIQUE DU PARC »), its
sending and the période contradictoire, the final report, the establishment's download and the read receipt.

The content is read from the stored PDF itself (its text extracted by pypdf), and from the HTML it is rendered
from (`reports.report_html`), which keeps the table's words in reading order."""

import datetime
import hashlib
import io
import re
from decimal import Decimal

import factory
import pypdf
import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from contracts.models import Contract
from evaluation import consolidation, reports, services
from evaluation.enums import EvaluatingBody, ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import (
    ContradictoryRound,
    Decision,
    IndicatorValue,
    Observation,
    Report,
    SelfEvaluation,
    Transition,
)
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory
from tests.evaluation.test_consolidation import PRIVATE, World, page_url, reload


class SentReportFactory(factory.django.DjangoModelFactory):
    """A version of the report sent to the establishment, its (small) file stored."""

    class Meta:
        model = Report

    class Params:
        content = b"%PDF-1.7\n% rapport d'evaluation\n%%EOF\n"

    version = 1
    file = factory.LazyAttribute(lambda report: ContentFile(report.content, name="rapport.pdf"))
    file_sha256 = factory.LazyAttribute(lambda report: hashlib.sha256(report.content).hexdigest())
    generated_by = factory.SubFactory(UserFactory)
    generated_at = factory.LazyFunction(timezone.now)
    sent_by = factory.SelfAttribute("generated_by")
    sent_at = factory.LazyFunction(timezone.now)


@pytest.fixture
def world(ej):
    world = World(ej)
    world.signataire = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    world.other_signataire = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    world.contributeur = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    world.lecteur = MembershipFactory(ej=ej, role=MembershipRole.LECTEUR).user
    return world


@pytest.fixture
def consolidated(world):
    world.consolidate_all()
    return world


def stored_bytes(report):
    with report.file.open("rb") as stored:
        return stored.read()


def send(world, **kwargs):
    return reports.send_report(world.self_evaluation, acting_user=world.ars, **kwargs)


# --- Generation and versions ----------------------------------------------------------------------------


def test_generating_is_refused_while_a_question_lacks_a_consolidated_decision(world):
    world.consolidate("1.a")
    with pytest.raises(reports.ReportRefused, match="3 questions n'ont pas encore de décision consolidée"):
        reports.generate_report(world.self_evaluation, acting_user=world.ars)
    assert not Report.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.REPORT_GENERATED).exists()


def test_each_generation_is_a_new_version_and_a_new_file_the_first_unchanged(consolidated):
    world = consolidated
    first = reports.generate_report(world.self_evaluation, acting_user=world.ars)
    first_bytes = stored_bytes(first)
    assert first_bytes.startswith(b"%PDF-") and b"%%EOF" in first_bytes[-32:]
    assert hashlib.sha256(first_bytes).hexdigest() == first.file_sha256
    assert (first.version, first.final, first.sent_at) == (1, False, None)

    consolidation.set_incentive_amount(world.self_evaluation, acting_user=world.ars, amount=Decimal("500"))
    second = reports.generate_report(world.self_evaluation, acting_user=world.ars)
    assert second.version == 2 and second.pk != first.pk
    assert second.file.name != first.file.name
    assert second.file_sha256 != first.file_sha256
    first.refresh_from_db()
    assert stored_bytes(first) == first_bytes
    assert hashlib.sha256(stored_bytes(first)).hexdigest() == first.file_sha256
    assert AuditEvent.objects.filter(event_type=EventType.REPORT_GENERATED).count() == 2


def test_the_am_cannot_generate_nor_send(consolidated):
    world = consolidated
    for function in (reports.generate_report, reports.send_report, reports.send_final_report):
        with pytest.raises(reports.ReportRefused, match="Seuls les agents ARS de la région"):
            function(world.self_evaluation, acting_user=world.am)
    assert not Report.objects.exists()
    assert reload(world.self_evaluation).state == SelfEvaluationState.EN_EVALUATION


def test_report_file_names(consolidated):
    world = consolidated
    report = reports.generate_report(world.self_evaluation, acting_user=world.ars)
    year = world.campaign.year
    assert reports.report_filename(report) == f"rapport-{world.ej.finess}-caqes-test-{year}-v1.pdf"
    report.final = True
    assert reports.report_filename(report) == f"rapport-definitif-{world.ej.finess}-caqes-test-{year}-v1.pdf"


# --- The content, on the demo contract ----------------------------------------------------------------


@pytest.fixture
def clinique():
    """« CAQES CLINIQUE DU PARC » (seed_demo, closed): each body decides its questions, the ARS consolidates
    every one and enters the intéressement, through the services."""
    call_command("seed_demo", password="Demo-e-CARS-2026!", stdout=io.StringIO())
    contract = Contract.objects.get(name="CAQES CLINIQUE DU PARC")
    self_evaluation = SelfEvaluation.objects.select_related("campaign", "contract__ej").get(contract=contract)
    ars = contract.ars_contact
    agents = {
        EvaluatingBody.ARS: ars,
        EvaluatingBody.AM: UserFactory._meta.model.objects.get(email="claire.morel@assurance-maladie.fr"),
        EvaluatingBody.OMEDIT: UserFactory._meta.model.objects.get(email="paul.girard@omedit-occitanie.fr"),
    }
    services.transition(self_evaluation, to_state=SelfEvaluationState.EN_EVALUATION, acting_user=ars)
    values = list(IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related("indicator"))
    for value in values:
        code = value.indicator.code
        verdict = {
            "1.1.1.a": Verdict.NON_ATTEINT,
            "3.1.2.b": Verdict.PARTIELLEMENT_ATTEINT,
            "4.1.1.a": Verdict.NON_EVALUABLE,
        }.get(code, Verdict.ATTEINT)
        motivation = "" if verdict == Verdict.ATTEINT else f"Motivation consolidée de {code}."
        for body in value.indicator.evaluating_bodies:
            Decision.objects.create(
                value=value,
                body=body,
                verdict=verdict,
                motivation=motivation,
                private_note=f"{PRIVATE} {body} {code}",
                decided_by=agents[body],
                decided_at=timezone.now(),
            )
        consolidation.consolidate(
            value,
            acting_user=ars,
            verdict=verdict,
            motivation=motivation,
            private_note=f"{PRIVATE} consolidation {code}",
            expected_version=0,
        )
    consolidation.set_incentive_amount(self_evaluation, acting_user=ars, amount=Decimal("12345"))
    self_evaluation.refresh_from_db()
    return self_evaluation


def test_the_report_of_the_demo_contract(clinique):
    ars = clinique.contract.ars_contact
    report = reports.generate_report(clinique, acting_user=ars)
    html = reports.report_html(clinique, version=report.version, generated_at=report.generated_at)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.replace("&#x27;", "'").replace("\xa0", " ")))
    year = clinique.campaign.year
    assert f"Rapport d'évaluation {year}" in text
    assert "CLINIQUE DU PARC — Finess Juridique 310780234" in text
    assert "CAQES CLINIQUE DU PARC (code PRIVE)" in text
    assert "Type de contrat CAQES" in text
    assert f"Version 1, du {timezone.localdate():%d/%m/%Y}" in text
    assert "Montant de l'intéressement : 12 345,00 €" in text
    # Each objective with its questions: code, label, target, answer, decision and motivation.
    assert "Objectif 1.1 — Identification du numéro RPPS" in text
    assert (
        "1.1.1.a Taux d'ordonnances de sortie délivrées précisant les numéros FINESS géographique et RPPS 95 % 72 % "
        "Non atteint Motivation : Motivation consolidée de 1.1.1.a."
    ) in text
    assert "3.1.2.b Taux de patients à risque conciliés 50 % 72 % Partiellement atteint" in text
    assert "4.1.1.a" in text and "Non évaluable Motivation : Motivation consolidée de 4.1.1.a." in text
    # Totals: objective 1.1 has one question, not met; objective 2.1 nine questions, all met.
    assert "Objectif 1.1 : totaux Atteint 0 Partiellement atteint 0 Non atteint 1 Non évaluable 0" in text
    assert "Objectif 2.1 : totaux Atteint 9 Partiellement atteint 0 Non atteint 0 Non évaluable 0" in text
    total = IndicatorValue.objects.filter(self_evaluation=clinique).count()
    assert (
        f"Synthèse des décisions Décision Questions Atteint {total - 3} Partiellement atteint 1 Non atteint 1 "
        f"Non évaluable 1 Total {total}"
    ) in text
    # Never a private note, the bodies' or the consolidation's.
    assert PRIVATE not in html
    # The stored file says the same: its extracted text holds the figures and never a private note.
    pdf_text = pdf_text_of(stored_bytes(report))
    assert f"Rapport d'évaluation {year}" in pdf_text
    assert "310780234" in pdf_text and "CAQES CLINIQUE DU PARC" in pdf_text
    assert "Montant de l'intéressement : 12 345,00 €" in pdf_text
    assert "Motivation consolidée de 1.1.1.a." in pdf_text
    assert PRIVATE not in pdf_text


def pdf_text_of(pdf: bytes) -> str:
    """The text of every page of a PDF, spaces normalised."""
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


def test_an_amount_not_entered_reads_non_renseigne(consolidated):
    html = reports.report_html(consolidated.self_evaluation, version=1, generated_at=timezone.now())
    assert "Montant de l'intéressement : non renseigné" in html


# --- Sending the report ---------------------------------------------------------------------------------


def test_sending_moves_to_the_contradictory_period_and_emails_the_signataires(
    consolidated, django_capture_on_commit_callbacks
):
    world = consolidated
    deadline = timezone.localdate() + datetime.timedelta(days=20)
    with django_capture_on_commit_callbacks(execute=True):
        report = send(world, deadline=deadline)
    self_evaluation = reload(world.self_evaluation)
    assert self_evaluation.state == SelfEvaluationState.CONTRADICTOIRE
    assert (self_evaluation.contradictory_round, self_evaluation.contradictory_deadline) == (1, deadline)
    path = list(
        Transition.objects.filter(self_evaluation=self_evaluation).order_by("pk").values_list("from_state", "to_state")
    )
    assert path == [
        (SelfEvaluationState.EN_EVALUATION, SelfEvaluationState.RAPPORT_ENVOYE),
        (SelfEvaluationState.RAPPORT_ENVOYE, SelfEvaluationState.CONTRADICTOIRE),
    ]
    round_ = ContradictoryRound.objects.get(self_evaluation=self_evaluation)
    assert (round_.number, round_.deadline, round_.opened_by) == (1, deadline, world.ars)
    assert (report.version, report.final, report.sent_by) == (1, False, world.ars) and report.sent_at
    assert AuditEvent.objects.filter(event_type=EventType.REPORT_SENT, data__deadline=deadline.isoformat()).exists()

    # Each signataire gets their own message; not the contributeur nor the lecteur.
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [world.signataire.email, world.other_signataire.email]
    )
    contract_url = reverse("contracts:contract_detail", args=[world.contract.public_id])
    for message in mail.outbox:
        assert len(message.to) == 1
        assert message.attachments == []
        assert message.subject == f"[e-CARS] Rapport d'évaluation {world.campaign.year} — CAQES TEST ({world.ej.name})"
        assert contract_url in message.body
        assert f"jusqu'au {deadline:%d/%m/%Y} inclus" in message.body
        html = message.alternatives[0][0]
        assert contract_url in html
        assert PRIVATE not in message.body and PRIVATE not in html


def test_sending_without_a_date_takes_the_campaigns_deadline(consolidated):
    send(consolidated)
    assert reload(consolidated.self_evaluation).contradictory_deadline == consolidated.campaign.contradictory_deadline


def test_sending_is_refused_before_every_question_is_consolidated(world):
    world.consolidate("1.a")
    world.consolidate("1.b")
    with pytest.raises(reports.ReportRefused, match="2 questions n'ont pas encore de décision consolidée"):
        send(world)
    assert reload(world.self_evaluation).state == SelfEvaluationState.EN_EVALUATION
    assert not Report.objects.exists() and not ContradictoryRound.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("days", [0, -3])
def test_sending_is_refused_with_a_deadline_not_in_the_future(consolidated, days):
    with pytest.raises(reports.ReportRefused, match="doit être postérieure à aujourd'hui") as refusal:
        send(consolidated, deadline=timezone.localdate() + datetime.timedelta(days=days))
    assert refusal.value.field == "deadline"
    assert reload(consolidated.self_evaluation).state == SelfEvaluationState.EN_EVALUATION
    assert not Report.objects.exists() and not Transition.objects.exists()


def test_sending_is_refused_without_any_deadline(consolidated):
    consolidated.campaign.contradictory_deadline = None
    consolidated.campaign.save()
    with pytest.raises(reports.ReportRefused, match="Indiquez la date limite des observations"):
        send(consolidated)
    assert not Report.objects.exists()


def test_sending_twice_is_refused(consolidated):
    send(consolidated)
    with pytest.raises(reports.ReportRefused, match="ne s'envoie qu'à l'état « En évaluation »"):
        send(consolidated)
    assert Report.objects.count() == 1


def test_the_page_sends_the_report_and_ties_a_bad_date_to_its_field(client_for, consolidated):
    world = consolidated
    client = client_for(world.ars)
    page = client.get(page_url(world.self_evaluation))
    deadline = world.campaign.contradictory_deadline
    assertContains(page, f'value="{deadline:%Y-%m-%d}"')
    assertContains(page, '<label for="id_deadline">Date limite des observations\xa0:</label>')
    assertContains(page, 'value="Générer le rapport"')
    url = reverse("admin:evaluation_evaluation_send_report", args=[world.self_evaluation.pk])
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    response = client.post(url, {"deadline": f"{yesterday:%Y-%m-%d}"})
    assertContains(response, "La date limite des observations doit être postérieure", status_code=400)
    assertContains(response, 'aria-describedby="id_deadline_error id_deadline_helptext"', status_code=400)
    assert not Report.objects.exists()

    response = client.post(url, {"deadline": f"{deadline:%Y-%m-%d}"}, follow=True)
    assertContains(response, f"La période contradictoire est ouverte jusqu&#x27;au {deadline:%d/%m/%Y}.")
    assertContains(response, "Non lu")
    assertNotContains(response, 'value="Envoyer le rapport"')
    assert reload(world.self_evaluation).state == SelfEvaluationState.CONTRADICTOIRE


def test_the_page_generates_a_draft(client_for, consolidated):
    world = consolidated
    url = reverse("admin:evaluation_evaluation_generate_report", args=[world.self_evaluation.pk])
    response = client_for(world.ars).post(url, follow=True)
    assertContains(response, "Rapport généré : version 1, non envoyée.")
    assertContains(response, "Non envoyé")
    report = Report.objects.get()
    download = client_for(world.am).get(
        reverse("admin:evaluation_evaluation_report_download", args=[world.self_evaluation.pk, report.pk])
    )
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == stored_bytes(report)
    assert report.read_at is None


# --- The final report -----------------------------------------------------------------------------------


def observe(world, code, *, sent=True, answered=False):
    round_ = ContradictoryRound.objects.get(self_evaluation=world.self_evaluation)
    return Observation.objects.create(
        round=round_,
        value=world.values[code],
        text="Nous contestons.",
        status=ObservationStatus.ENVOYEE if sent else ObservationStatus.BROUILLON,
        sent_at=timezone.now() if sent else None,
        written_by=world.signataire,
        answer="Décision maintenue." if answered else "",
        answered_by=world.ars if answered else None,
        answered_at=timezone.now() if answered else None,
    )


def test_the_final_report_waits_for_the_answers(consolidated, django_capture_on_commit_callbacks):
    world = consolidated
    send(world)
    first = observe(world, "1.a")
    observe(world, "1.b")
    with pytest.raises(reports.ReportRefused, match="2 observations de l'établissement attendent encore une réponse"):
        reports.send_final_report(world.self_evaluation, acting_user=world.ars)
    Observation.objects.filter(pk=first.pk).update(
        answer="Maintenue.", answered_by=world.ars, answered_at=timezone.now()
    )
    with pytest.raises(reports.ReportRefused, match="1 observation de l'établissement attend encore une réponse"):
        reports.send_final_report(world.self_evaluation, acting_user=world.ars)
    assert reload(world.self_evaluation).state == SelfEvaluationState.CONTRADICTOIRE
    assert Report.objects.count() == 1

    Observation.objects.update(answer="Maintenue.", answered_by=world.ars, answered_at=timezone.now())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        final = reports.send_final_report(world.self_evaluation, acting_user=world.ars)
    assert (final.version, final.final) == (2, True) and final.sent_at
    assert reload(world.self_evaluation).state == SelfEvaluationState.DEFINITIVE
    assert Transition.objects.filter(
        from_state=SelfEvaluationState.CONTRADICTOIRE, to_state=SelfEvaluationState.DEFINITIVE
    ).exists()
    assert len(mail.outbox) == 2
    assert all(
        message.subject.startswith(f"[e-CARS] Rapport définitif {world.campaign.year}") for message in mail.outbox
    )
    assert all(message.attachments == [] for message in mail.outbox)


def test_the_final_report_without_observations_waits_for_the_deadline(consolidated):
    world = consolidated
    send(world)
    observe(world, "1.a", sent=False)  # a draft never sent does not count
    deadline = reload(world.self_evaluation).contradictory_deadline
    with pytest.raises(reports.ReportRefused, match=f"court jusqu'au {deadline:%d/%m/%Y}"):
        reports.send_final_report(world.self_evaluation, acting_user=world.ars)
    assert Report.objects.count() == 1
    past = timezone.localdate() - datetime.timedelta(days=1)
    ContradictoryRound.objects.update(deadline=past)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(contradictory_deadline=past)
    final = reports.send_final_report(world.self_evaluation, acting_user=world.ars)
    assert final.final and reload(world.self_evaluation).state == SelfEvaluationState.DEFINITIVE


def test_the_final_report_is_refused_outside_the_contradictory_period(consolidated):
    with pytest.raises(reports.ReportRefused, match="ne s'envoie que pendant la période contradictoire"):
        reports.send_final_report(consolidated.self_evaluation, acting_user=consolidated.ars)
    assert not Report.objects.exists()


def test_the_page_shows_why_the_final_report_waits_then_sends_it(client_for, consolidated):
    world = consolidated
    send(world)
    observe(world, "1.a")
    client = client_for(world.ars)
    page = client.get(page_url(world.self_evaluation))
    assertContains(page, "Rapport définitif : 1 observation de l&#x27;établissement attend encore une réponse")
    assertNotContains(page, 'value="Envoyer le rapport définitif"')
    Observation.objects.update(answer="Maintenue.", answered_by=world.ars, answered_at=timezone.now())
    page = client.get(page_url(world.self_evaluation))
    assertContains(page, 'value="Envoyer le rapport définitif"')
    url = reverse("admin:evaluation_evaluation_send_final_report", args=[world.self_evaluation.pk])
    response = client.post(url, follow=True)
    assertContains(response, "Rapport définitif envoyé (version 2)")
    assertContains(response, "Version 2 — Rapport définitif")


# --- The establishment's download and the read receipt ------------------------------------------------------


def download_url(self_evaluation, version):
    return reverse("evaluation:report_download", args=[self_evaluation.public_id, version])


@pytest.fixture
def sent(consolidated):
    send(consolidated)
    return consolidated


@pytest.mark.parametrize("role", ["signataire", "lecteur", "contributeur"])
def test_members_of_the_ej_download_a_sent_version(client_for, sent, role):
    response = client_for(getattr(sent, role)).get(download_url(sent.self_evaluation, 1))
    assert response.status_code == 200
    report = Report.objects.get()
    assert b"".join(response.streaming_content) == stored_bytes(report)
    year = sent.campaign.year
    assert (
        response["Content-Disposition"] == f'attachment; filename="rapport-{sent.ej.finess}-caqes-test-{year}-v1.pdf"'
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert "no-store" in response["Cache-Control"]


def test_a_draft_another_ej_staff_and_anonymous_cannot_download(client_for, sent, other_member):
    reports.generate_report(sent.self_evaluation, acting_user=sent.ars)  # v2, not sent
    assert client_for(sent.signataire).get(download_url(sent.self_evaluation, 2)).status_code == 404
    assert client_for(sent.signataire).get(download_url(sent.self_evaluation, 9)).status_code == 404
    assert client_for(other_member).get(download_url(sent.self_evaluation, 1)).status_code == 404
    assert client_for(sent.ars).get(download_url(sent.self_evaluation, 1)).status_code == 404
    response = client_for(None).get(download_url(sent.self_evaluation, 1))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert Report.objects.filter(read_at__isnull=False).count() == 0


def test_the_first_download_by_a_member_is_the_read_receipt_recorded_once(client_for, sent):
    report = Report.objects.get()
    # Agents' downloads never count.
    admin_url = reverse("admin:evaluation_evaluation_report_download", args=[sent.self_evaluation.pk, report.pk])
    assert client_for(sent.ars).get(admin_url).status_code == 200
    report.refresh_from_db()
    assert report.read_at is None

    client_for(sent.lecteur).get(download_url(sent.self_evaluation, 1))
    report.refresh_from_db()
    first_read = report.read_at
    assert first_read is not None and report.read_by == sent.lecteur
    client_for(sent.signataire).get(download_url(sent.self_evaluation, 1))
    client_for(sent.lecteur).get(download_url(sent.self_evaluation, 1))
    report.refresh_from_db()
    assert (report.read_at, report.read_by) == (first_read, sent.lecteur)
    assert AuditEvent.objects.filter(event_type=EventType.REPORT_READ).count() == 1

    page = client_for(sent.ars).get(page_url(sent.self_evaluation))
    name = sent.lecteur.get_full_name()
    assertContains(page, f"Lu le {timezone.localtime(first_read):%d/%m/%Y à %H:%M} par {name}")


def test_two_first_downloads_at_once_record_one_read_receipt(sent):
    """Both requests loaded the report unread; the conditional UPDATE lets only the first one record it."""
    seen_by_first = Report.objects.select_related("self_evaluation__contract__ej").get()
    seen_by_second = Report.objects.select_related("self_evaluation__contract__ej").get()
    assert seen_by_first.read_at is None and seen_by_second.read_at is None
    assert reports.record_download(seen_by_first, user=sent.signataire) is True
    assert reports.record_download(seen_by_second, user=sent.lecteur) is False
    stored = Report.objects.get()
    assert stored.read_by == sent.signataire
    assert AuditEvent.objects.filter(event_type=EventType.REPORT_READ).count() == 1


def test_the_contract_page_lists_the_sent_versions(client_for, sent):
    reports.generate_report(sent.self_evaluation, acting_user=sent.ars)  # a draft: never listed
    response = client_for(sent.lecteur).get(reverse("contracts:contract_detail", args=[sent.contract.public_id]))
    assertContains(response, '<h2 id="rapport-evaluation-titre">Rapport d\'évaluation</h2>', html=True)
    assertContains(response, f'href="{download_url(sent.self_evaluation, 1)}"')
    assertContains(response, '<span class="fr-sr-only"> version 1</span>')
    assertNotContains(response, download_url(sent.self_evaluation, 2))
    assertNotContains(response, PRIVATE)


def test_no_report_block_before_sending(client_for, consolidated):
    reports.generate_report(consolidated.self_evaluation, acting_user=consolidated.ars)
    url = reverse("contracts:contract_detail", args=[consolidated.contract.public_id])
    response = client_for(consolidated.signataire).get(url)
    assertNotContains(response, "Télécharger le rapport")


def test_agents_find_the_sent_versions_on_the_contract_page_through_the_admin(client_for, sent):
    report = Report.objects.get()
    response = client_for(sent.ars).get(reverse("contracts:contract_detail", args=[sent.contract.public_id]))
    admin_url = reverse("admin:evaluation_evaluation_report_download", args=[sent.self_evaluation.pk, report.pk])
    assertContains(response, f'href="{admin_url}"')
    assertNotContains(response, download_url(sent.self_evaluation, 1))
