"""« Clore la saisie »: the closure, its receipt (attestation de clôture), its e-mail, and that nothing
is writable afterwards, even when a save races the closure (SECURITY.md C3, E7, E8, R1–R3)."""

import base64
import email
import email.policy
import hashlib
import json
import threading
import zoneinfo
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from documents.models import Document
from ecars import emails
from evaluation import receipts, services
from evaluation.attachments import upload_to_question
from evaluation.enums import FilledBy, SelfEvaluationState
from evaluation.models import (
    Attachment,
    ClosureReceipt,
    IndicatorValue,
    IndicatorValueHistory,
    SelfEvaluation,
    Transition,
)
from evaluation.perms import Abilities
from evaluation.receipts import answers_digest
from evaluation.tree import build_tree
from tests.accounts.factories import UserFactory
from tests.contracts.factories import (
    ContractFactory,
    EntiteJuridiqueFactory,
    EtablissementFactory,
    MembershipFactory,
    RegionFactory,
)
from tests.documents.corpus import sample
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, SelfEvaluationFactory
from tests.evaluation.test_tree import demo, fill_everything  # noqa: F401 - the manual's world, as a fixture


PARIS = zoneinfo.ZoneInfo("Europe/Paris")


# --- A small closable world -----------------------------------------------------------------


class World:
    """A complete self-evaluation of `ej`: EJ and ET questions, « non concerné », a comment, a
    question of the Assurance Maladie; two active signataires, an inactive one, a contributeur, an
    ARS contact."""

    def __init__(self, ej, signataire, *, campaign=None):
        region = ej.region
        self.ars_contact = UserFactory(ars_staff=True, region=region, email=f"contact-{ej.finess}@ars.sante.fr")
        self.contract = ContractFactory(ej=ej, name="CAQES TEST", code="PUBLIC", ars_contact=self.ars_contact)
        self.sites = sorted(EtablissementFactory.create_batch(2, ej=ej), key=lambda site: site.finess)
        self.contract.etablissements.set(self.sites)
        if campaign is None:
            campaign = CampaignFactory(contract_type=self.contract.contract_type, regions=[region], name="CAQES 2025")
        self.self_evaluation = SelfEvaluationFactory(contract=self.contract, campaign=campaign)
        referential = campaign.referential
        objective = self._node(referential, code="1", label="Améliorer la pertinence des prescriptions")
        yes_no = self._node(referential, parent=objective, code="1.a", label="Livret thérapeutique", oui_non=True)
        rate = self._node(referential, parent=objective, code="1.b", label="Taux de prescriptions", taux=True)
        text = self._node(referential, parent=objective, code="1.c", label="Actions menées", texte=True)
        am = self._node(
            referential, parent=objective, code="1.d", label="Dépenses", nombre=True, filled_by=FilledBy.AM
        )
        self.yes_no = IndicatorValueFactory(self_evaluation=self.self_evaluation, indicator=yes_no, value="1")
        self.rate_1 = IndicatorValueFactory(
            self_evaluation=self.self_evaluation, indicator=rate, etablissement=self.sites[0], value="85.5"
        )
        self.rate_2 = IndicatorValueFactory(
            self_evaluation=self.self_evaluation,
            indicator=rate,
            etablissement=self.sites[1],
            not_applicable=True,
            not_applicable_reason="Pas de prescription hospitalière exécutée en ville sur ce site.",
        )
        self.text = IndicatorValueFactory(
            self_evaluation=self.self_evaluation,
            indicator=text,
            value="Réunions « pertinence » trimestrielles",
            comment="Voir le compte rendu d'octobre.",
        )
        self.am = IndicatorValueFactory(self_evaluation=self.self_evaluation, indicator=am, value="")
        self.signataire = signataire
        self.other_signataire = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
        inactive = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
        inactive.is_active = False
        inactive.save()
        self.contributeur = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
        MembershipFactory(ej=ej, role=MembershipRole.LECTEUR)

    @staticmethod
    def _node(referential, **kwargs):
        return NodeFactory(referential=referential, **kwargs)

    @property
    def recipients(self):
        return sorted([self.signataire.email, self.other_signataire.email, self.ars_contact.email])


@pytest.fixture
def world(ej, member):
    return World(ej, member)


def close_url(self_evaluation):
    return reverse("evaluation:close", args=[self_evaluation.public_id])


def receipt_url(self_evaluation):
    return reverse("evaluation:receipt", args=[self_evaluation.public_id])


def contract_url(contract):
    return reverse("contracts:contract_detail", args=[contract.public_id])


def independent_digest(self_evaluation):
    """The fingerprint of the receipt, recomputed from the database rows by the documented recipe."""
    rows = []
    for value in IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related(
        "indicator", "etablissement"
    ):
        if value.indicator.filled_by != "etablissement":
            continue
        rows.append(
            {
                "code": value.indicator.code,
                "finess": value.etablissement.finess if value.etablissement else "",
                "value": value.value,
                "not_applicable": value.not_applicable,
                "justification": value.not_applicable_reason,
                "comment": value.comment,
            }
        )
    rows.sort(key=lambda row: (row["code"], row["finess"]))
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def filename_of(world):
    """Named after the EJ's FINESS, the contract's name and the year, never the code (« PUBLIC ») that many
    contracts share (issue 11, item 8)."""
    return f"attestation-cloture-{world.contract.ej.finess}-caqes-test-{world.self_evaluation.campaign.year}.pdf"


def stored_bytes(receipt):
    with receipt.file.open("rb") as stored:
        return stored.read()


def snapshot(self_evaluation):
    """Everything a write could change, for « nothing changed » assertions."""
    self_evaluation = SelfEvaluation.objects.get(pk=self_evaluation.pk)
    return {
        "self_evaluation": (
            self_evaluation.state,
            self_evaluation.closed_at,
            self_evaluation.closed_by_id,
            self_evaluation.updated_at,
        ),
        "values": list(
            IndicatorValue.objects.filter(self_evaluation=self_evaluation)
            .order_by("pk")
            .values(
                "pk",
                "value",
                "target",
                "not_applicable",
                "not_applicable_reason",
                "comment",
                "assigned_to",
                "version",
                "updated_at",
                "updated_by",
            )
        ),
        "history": list(
            IndicatorValueHistory.objects.filter(indicator_value__self_evaluation=self_evaluation)
            .order_by("pk")
            .values_list("pk", "version", "changes")
        ),
        "transitions": list(Transition.objects.filter(self_evaluation=self_evaluation).values_list("pk", "to_state")),
        "receipts": [
            (receipt.pk, receipt.file.name, receipt.file_sha256, receipt.answers_sha256, stored_bytes(receipt))
            for receipt in ClosureReceipt.objects.filter(self_evaluation=self_evaluation).order_by("pk")
        ],
    }


# --- The closure and its receipt --------------------------------------------------------------


def test_a_signataire_closes_and_the_closure_is_receipted(client_for, world):
    self_evaluation = world.self_evaluation
    expected_digest = independent_digest(self_evaluation)
    client = client_for(world.signataire)
    response = client.post(close_url(self_evaluation))
    assertRedirects(response, contract_url(world.contract), fetch_redirect_response=False)

    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.CLOTUREE
    assert self_evaluation.closed_by == world.signataire
    transition = Transition.objects.get(self_evaluation=self_evaluation, to_state=SelfEvaluationState.CLOTUREE)
    assert (transition.from_state, transition.user) == (SelfEvaluationState.AUTO_EVALUATION, world.signataire)

    receipt = ClosureReceipt.objects.get(self_evaluation=self_evaluation)
    assert (receipt.filled, receipt.total) == (4, 4)  # 1.a, 1.b for each ET, 1.c; not the AM's 1.d
    assert receipt.closed_by == world.signataire
    assert receipt.closed_at == self_evaluation.closed_at
    assert receipt.answers_sha256 == expected_digest == answers_digest(self_evaluation)
    assert receipt.file.name.startswith("receipts/") and receipt.file.name.endswith(".pdf")
    assert world.contract.ej.finess not in receipt.file.name  # a random key, nothing guessable
    pdf = stored_bytes(receipt)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 5_000
    assert b"%%EOF" in pdf[-1024:]
    assert hashlib.sha256(pdf).hexdigest() == receipt.file_sha256

    # The contract page is in consultation and links the receipt.
    page = client.get(contract_url(world.contract))
    assertContains(page, '<p class="ecars-state-banner__title">Consultation</p>', html=True)
    closed_on = timezone.localtime(receipt.closed_at, PARIS).strftime("%d/%m/%Y à %H:%M")
    assertContains(page, f"Attestation de clôture du {closed_on}")
    assertContains(page, f'href="{receipt_url(self_evaluation)}"')


def test_the_receipt_shows_who_when_the_figures_the_answers_and_their_fingerprint(world):
    self_evaluation = services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
    receipt = ClosureReceipt.objects.get(self_evaluation=self_evaluation)
    html = receipts.receipt_html(
        self_evaluation,
        closed_by=world.signataire,
        closed_at=receipt.closed_at,
        tree=build_tree(self_evaluation, can=Abilities(write=True)),
        digest=receipt.answers_sha256,
    )
    ej = world.contract.ej
    local = timezone.localtime(receipt.closed_at, PARIS)
    for words in (
        "Attestation de clôture de l&#x27;auto-évaluation",
        f"{ej.finess} - {ej.name}",
        "CAQES TEST",
        "CAQES 2025",
        f"Clôturée le</dt><dd>{local:%d/%m/%Y à %H:%M:%S} (heure de Paris)",
        world.signataire.email,
        "4 questions saisies sur 4",
        "Pourcentage de remplissage : 100 %",
        "1 - OUI",  # values.display
        "85,5 %",
        "Non concerné",
        "Pas de prescription hospitalière exécutée en ville sur ce site.",
        "Réunions « pertinence » trimestrielles",
        "Voir le compte rendu d&#x27;octobre.",
        f"{world.sites[0].finess} - {world.sites[0].name}",
        receipt.answers_sha256,
        "SHA-256",
    ):
        assert words in html, words
    assert "Dépenses" not in html  # the Assurance Maladie's question is not an answer of the establishment
    assert "http" not in html  # nothing to fetch while rendering


def test_the_fingerprint_covers_every_answer_field(world):
    before = answers_digest(world.self_evaluation)
    for field, new in (("value", "0"), ("comment", "Ajout"), ("not_applicable_reason", "Autre motif")):
        value = world.rate_2 if field == "not_applicable_reason" else world.yes_no
        old = getattr(value, field)
        setattr(value, field, new)
        value.save()
        assert answers_digest(world.self_evaluation) != before, field
        assert answers_digest(world.self_evaluation) == independent_digest(world.self_evaluation)
        setattr(value, field, old)
        value.save()
    assert answers_digest(world.self_evaluation) == before


def test_the_receipt_rendering_never_fetches_a_url(world, monkeypatch):
    import weasyprint

    monkeypatch.setattr(
        receipts, "receipt_html", lambda *args, **kwargs: '<p>x</p><img src="http://127.0.0.1:9/logo.png">'
    )
    with pytest.raises(weasyprint.urls.FatalURLFetchingError):
        receipts.render_receipt_pdf(
            world.self_evaluation, closed_by=world.signataire, closed_at=timezone.now(), tree=None, digest="0"
        )


# --- The e-mail -------------------------------------------------------------------------------


def test_the_receipt_is_emailed_to_the_signataires_and_the_ars_contact(client_for, world):
    client_for(world.signataire).post(close_url(world.self_evaluation))
    receipt = ClosureReceipt.objects.get(self_evaluation=world.self_evaluation)
    # One message each (they never see each other's addresses); not the contributeur, the lecteur nor the
    # inactive account.
    assert sorted(message.to[0] for message in mail.outbox) == world.recipients
    assert all(len(message.to) == 1 for message in mail.outbox)
    message = mail.outbox[0]
    ej_name = world.contract.ej.name
    assert message.subject == f"[e-CARS] Attestation de clôture de l'auto-évaluation — CAQES TEST ({ej_name})"
    assert message.body.startswith("Bonjour,")
    assert "4 questions saisies sur 4" in message.body
    assert "Pourcentage de remplissage : 100 %" in message.body
    assert receipt.answers_sha256 in message.body
    assert contract_url(world.contract) in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "ci-joint l'attestation de clôture (PDF)" in html
    assert receipt.answers_sha256 in html
    [(filename, content, attachment_type)] = message.attachments
    assert (filename, attachment_type) == (filename_of(world), "application/pdf")
    assert content == stored_bytes(receipt)


@pytest.mark.django_db(transaction=True)
def test_the_receipt_reaches_a_real_smtp_server_as_a_pdf_attachment(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.hostname
    settings.EMAIL_PORT = smtp_server.port
    ej = EntiteJuridiqueFactory(region=RegionFactory(code="76", name="Occitanie"))
    world = World(ej, MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user)
    with transaction.atomic():
        services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
        assert smtp_server.envelopes == []  # sent after the commit only
    receipt = ClosureReceipt.objects.get(self_evaluation=world.self_evaluation)

    # One message each: every delivered message names its own recipient only.
    assert sorted(envelope.rcpt_tos[0] for envelope in smtp_server.envelopes) == world.recipients
    for envelope in smtp_server.envelopes:
        [recipient] = envelope.rcpt_tos
        headers = email.message_from_bytes(envelope.content, policy=email.policy.default).items()
        assert [value for name, value in headers if name in ("To", "Cc", "Bcc")] == [recipient]
        assert not [other for other in world.recipients if other != recipient and other in str(headers)]
    envelope = smtp_server.envelopes[0]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    # Python's parser keeps the space of the folded (encoded) subject line.
    assert str(message["Subject"]).strip().startswith("[e-CARS] Attestation de clôture de l'auto-évaluation")
    assert "4 questions saisies sur 4" in message.get_body(("plain",)).get_content()
    assert receipt.answers_sha256 in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == filename_of(world)
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == receipt.file_sha256


def test_attachments_of_a_sensitive_message_are_queued_sealed(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    templates = Path(__file__).parent.parent / "ecars" / "templates"
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], templates]}]
    queued = []
    real_task = emails.send_email
    monkeypatch.setattr(emails, "send_email", SimpleNamespace(enqueue=lambda **kwargs: queued.append(kwargs)))
    secret = b"%PDF-1.7 mot de passe provisoire 493817"
    with django_capture_on_commit_callbacks(execute=True):
        emails.send_templated_email(
            "tests/email/notice",
            to=["a@exemple.fr"],
            context={"contract": "CAQES TEST"},
            sensitive=True,
            attachments=[("code.pdf", secret, "application/pdf")],
        )
    [kwargs] = queued
    assert b"493817" not in json.dumps(kwargs).encode()
    assert base64.b64encode(secret).decode() not in json.dumps(kwargs)
    real_task.call(**kwargs)
    [message] = mail.outbox
    assert message.attachments == [("code.pdf", secret, "application/pdf")]


# --- Refusals ---------------------------------------------------------------------------------


def test_closure_is_refused_at_95_percent(demo, django_capture_on_commit_callbacks):  # noqa: F811
    user, self_evaluation = demo
    fill_everything(self_evaluation)
    IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code="2.1.1.a").update(value="")
    tree = build_tree(self_evaluation, can=Abilities(write=True))
    assert (tree.filled, tree.total, tree.percent) == (19, 20, 95)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.ClosureRefused) as refusal:
        services.close_self_evaluation(self_evaluation, acting_user=user)
    assert str(refusal.value) == "Il reste 1 question à saisir."
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION
    assert not ClosureReceipt.objects.filter(self_evaluation=self_evaluation).exists()
    assert mail.outbox == []


def test_a_contributeur_cannot_close(client_for, world):
    before = snapshot(world.self_evaluation)
    with pytest.raises(services.ClosureRefused):
        services.close_self_evaluation(world.self_evaluation, acting_user=world.contributeur)
    response = client_for(world.contributeur).post(close_url(world.self_evaluation))
    assert response.status_code == 403
    assertContains(response, "Vous ne pouvez pas clore cette auto-évaluation", status_code=403)
    assert snapshot(world.self_evaluation) == before
    assert mail.outbox == []
    assert AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED, actor=world.contributeur).exists()


def test_closing_twice_is_refused(client_for, world):
    services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
    before = snapshot(world.self_evaluation)
    mail.outbox.clear()
    with pytest.raises(services.ClosureRefused):
        services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
    with pytest.raises(services.ClosureRefused):
        services.close_self_evaluation(world.self_evaluation, acting_user=world.other_signataire)
    assert snapshot(world.self_evaluation) == before
    assert ClosureReceipt.objects.count() == 1
    assert mail.outbox == []


def test_every_write_replayed_after_the_closure_is_refused_and_changes_nothing(client_for, world):
    """SECURITY.md C3: values (service and page), assignment, documents, closing again."""
    client = client_for(world.signataire)
    answers = [world.yes_no, world.rate_1, world.rate_2, world.text]
    document = upload_to_question(
        SimpleUploadedFile("Preuve.pdf", sample("valid.pdf")), value=world.yes_no, acting_user=world.signataire
    )
    # What the pages would have posted before the closure, captured with the versions of then.
    captured = [
        (
            value,
            {
                "value": "0" if value is world.yes_no else "12",
                "not_applicable": "",
                "not_applicable_reason": "",
                "comment": "Rejoué après la clôture",
                "version": str(value.version),
            },
        )
        for value in answers
    ]
    client.post(close_url(world.self_evaluation))
    assert ClosureReceipt.objects.count() == 1
    mail.outbox.clear()
    before = snapshot(world.self_evaluation)
    refusals_before = AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED).count()

    for value in answers:
        value.refresh_from_db()
        with pytest.raises(services.WriteRefused):
            services.save_answer(
                value,
                acting_user=world.signataire,
                expected_version=value.version,
                answer={
                    "value": "0",
                    "not_applicable": False,
                    "not_applicable_reason": "",
                    "comment": "Rejoué après la clôture",
                },
            )
    for value, data in captured:
        url = reverse("evaluation:question", args=[world.self_evaluation.public_id, value.indicator.code])
        if value.etablissement:
            url += f"?et={value.etablissement.finess}"
        response = client.post(url, data)
        assert response.status_code != 302, url  # never « Réponse enregistrée »
        response = client.post(url, {"assign": "1", "scope": "question", "assignee": ""})
        assert "Réponse enregistrée" not in response.content.decode()
    with pytest.raises(services.WriteRefused):
        services.assign_questions(answers, assignee=world.contributeur, acting_user=world.signataire)
    documents_before = (Document.objects.count(), list(Attachment.objects.values_list("pk", "withdrawn_at")))
    for value in answers:
        question = [world.self_evaluation.public_id, value.indicator.code]
        et = f"?et={value.etablissement.finess}" if value.etablissement else ""
        upload = client.post(
            reverse("evaluation:question_upload", args=question) + et,
            {"documents": [SimpleUploadedFile("Rejoue.pdf", sample("valid.pdf"))]},
        )
        assert upload.status_code == 409
        attach_url = reverse("evaluation:question_attach", args=question) + et
        assert client.post(attach_url, {"document": document.public_id}).status_code == 409
    withdraw = client.post(
        reverse("evaluation:question_withdraw", args=[world.self_evaluation.public_id, "1.a", document.public_id])
    )
    assert withdraw.status_code == 409
    world.yes_no.self_evaluation = world.self_evaluation
    with pytest.raises(services.WriteRefused):
        upload_to_question(
            SimpleUploadedFile("Rejoue.pdf", sample("valid.pdf")), value=world.yes_no, acting_user=world.signataire
        )
    assert (Document.objects.count(), list(Attachment.objects.values_list("pk", "withdrawn_at"))) == documents_before
    response = client.post(close_url(world.self_evaluation))
    assertContains(response, "Vous ne pouvez pas clore cette auto-évaluation", status_code=409)
    assertContains(response, receipt_url(world.self_evaluation), status_code=409)
    with pytest.raises(services.ClosureRefused):
        services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)

    assert snapshot(world.self_evaluation) == before
    assert mail.outbox == []
    assert AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED).count() > refusals_before


def test_nothing_is_closed_when_the_receipt_cannot_be_stored(world, monkeypatch, django_capture_on_commit_callbacks):
    before = snapshot(world.self_evaluation)

    def full_disk(self, name, content):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full_disk)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OSError):
        services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
    assert snapshot(world.self_evaluation) == before
    assert not AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED).exists()
    assert mail.outbox == []


def test_no_orphan_file_when_the_closure_fails_after_storing_it(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    storage = ClosureReceipt._meta.get_field("file").storage
    files_before = storage.listdir("receipts")[1] if storage.exists("receipts") else []

    def broken(*args, **kwargs):
        raise RuntimeError("template error")

    monkeypatch.setattr("ecars.emails.send_templated_email", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
    world.self_evaluation.refresh_from_db()
    assert world.self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION
    assert not ClosureReceipt.objects.exists()
    assert (storage.listdir("receipts")[1] if storage.exists("receipts") else []) == files_before
    assert mail.outbox == []


# --- The race: a save and the closure at the same moment ---------------------------------------


def race(**actions):
    """Run each action in its own thread, all released at once; return what each returned or raised."""
    barrier = threading.Barrier(len(actions), timeout=10)
    results = {}

    def run(name, action):
        try:
            barrier.wait()
            results[name] = action()
        except Exception as e:  # reported to the main thread
            results[name] = e
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in actions.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_a_save_racing_the_closure_lands_before_it_or_is_refused(monkeypatch):
    """SECURITY.md R2, 60 rounds: either the save is in the receipt (saved before the closure), or it
    was refused and the stored answer is the one of before. (About half the rounds go each way.)

    WeasyPrint's layout (≈ 0.2 s a PDF) is left out to keep the test short: the receipt's HTML is still
    rendered inside the closure's transaction, and its fingerprint is the real one.
    """

    def fast_pdf(*args, **kwargs):
        return b"%PDF-1.7\n" + receipts.receipt_html(*args, **kwargs).encode() + b"\n%%EOF\n"

    monkeypatch.setattr(receipts, "render_receipt_pdf", fast_pdf)
    region = RegionFactory(code="76", name="Occitanie")
    ej = EntiteJuridiqueFactory(region=region)
    signataire = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    contributeur = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    contract_type = ContractFactory(ej=ej).contract_type
    campaign = CampaignFactory(contract_type=contract_type, regions=[region])
    questions = [NodeFactory(referential=campaign.referential, code=f"1.{letter}", oui_non=True) for letter in "abc"]
    outcomes = {"saved": 0, "refused": 0}

    for round_number in range(60):
        self_evaluation = SelfEvaluationFactory(contract=ContractFactory(ej=ej), campaign=campaign)
        answers = [
            IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question, value="1")
            for question in questions
        ]
        target = answers[round_number % len(answers)]
        new_answer = {
            "value": "0",
            "not_applicable": False,
            "not_applicable_reason": "",
            "comment": f"Tour {round_number}",
        }
        results = race(
            close=partial(services.close_self_evaluation, self_evaluation, acting_user=signataire),
            save=partial(
                services.save_answer,
                target,
                acting_user=contributeur,
                expected_version=target.version,
                answer=new_answer,
            ),
        )
        closed = results["close"]
        assert isinstance(closed, SelfEvaluation), closed  # the save keeps everything filled: it always closes
        receipt = ClosureReceipt.objects.get(self_evaluation=self_evaluation)
        stored = IndicatorValue.objects.get(pk=target.pk)
        assert receipt.answers_sha256 == independent_digest(self_evaluation)
        if isinstance(results["save"], IndicatorValue):
            outcomes["saved"] += 1
            assert (stored.value, stored.comment, stored.version) == ("0", f"Tour {round_number}", 2)
            assert stored.updated_at <= receipt.closed_at
            assert IndicatorValueHistory.objects.filter(indicator_value=stored).count() == 1
        else:
            outcomes["refused"] += 1
            assert isinstance(results["save"], services.WriteRefused), results["save"]
            assert (stored.value, stored.comment, stored.version) == ("1", "", 1)
            assert not IndicatorValueHistory.objects.filter(indicator_value=stored).exists()
        # Either way, nothing can be written any more.
        with pytest.raises(services.WriteRefused):
            services.save_answer(stored, acting_user=contributeur, expected_version=stored.version, answer=new_answer)
    assert sum(outcomes.values()) == 60


# --- Downloading the receipt ------------------------------------------------------------------


@pytest.fixture
def closed_world(world):
    services.close_self_evaluation(world.self_evaluation, acting_user=world.signataire)
    return world


def test_a_member_downloads_the_receipt_with_the_safe_headers(client_for, closed_world):
    receipt = ClosureReceipt.objects.get()
    for user in (closed_world.signataire, closed_world.contributeur):
        response = client_for(user).get(receipt_url(closed_world.self_evaluation))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'attachment; filename="{filename_of(closed_world)}"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert response["Cross-Origin-Resource-Policy"] == "same-origin"
        assert b"".join(response.streaming_content) == stored_bytes(receipt)


def test_the_ars_staff_of_the_region_download_the_receipt(client_for, closed_world, ars_staff):
    response = client_for(ars_staff).get(receipt_url(closed_world.self_evaluation))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_a_member_of_another_ej_gets_404(client_for, closed_world, other_member):
    client = client_for(other_member)
    assert client.get(receipt_url(closed_world.self_evaluation)).status_code == 404
    assert client_for(None).get(receipt_url(closed_world.self_evaluation)).status_code == 302  # to the login


def test_the_download_is_get_only(client_for, closed_world):
    assert client_for(closed_world.signataire).post(receipt_url(closed_world.self_evaluation)).status_code == 405


def test_a_tampered_receipt_is_never_served(client_for, closed_world):
    receipt = ClosureReceipt.objects.get()
    with open(receipt.file.path, "wb") as stored:  # someone with access to the storage
        stored.write(b"%PDF-1.7\n% forged\n%%EOF\n")
    response = client_for(closed_world.signataire).get(receipt_url(closed_world.self_evaluation))
    assert response.status_code == 500
    assert b"forged" not in response.content
    assert "Erreur inattendue" in response.content.decode()
    assert "attachment" not in response.get("Content-Disposition", "")


def test_a_missing_receipt_file_is_an_error_not_a_crash(client_for, closed_world):
    receipt = ClosureReceipt.objects.get()
    receipt.file.storage.delete(receipt.file.name)
    response = client_for(closed_world.signataire).get(receipt_url(closed_world.self_evaluation))
    assert response.status_code == 500


def test_before_the_closure_the_download_leads_back_to_the_contract(client_for, world):
    response = client_for(world.signataire).get(receipt_url(world.self_evaluation))
    assertRedirects(response, contract_url(world.contract), fetch_redirect_response=False)
    page = client_for(world.signataire).get(contract_url(world.contract))
    assertNotContains(page, "Attestation de clôture du")
