"""The période contradictoire (evaluation.contradictory): the establishment's observations and their documents,
sending them, the ARS's answers (revised or maintained decisions), a new round on the questions still contested,
and the final report; each allowed and refused case, with nothing stored on refusal."""

import datetime

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from documents.models import Document
from documents.validation import UploadRefused
from evaluation import contradictory, reports
from evaluation.enums import ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import (
    Consolidation,
    ContradictoryRound,
    Observation,
    ObservationDocument,
    SelfEvaluation,
    Transition,
)
from evaluation.services import VersionConflict
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory
from tests.documents import conftest as documents_conftest
from tests.documents.corpus import portable_executable, sample
from tests.evaluation.test_consolidation import PRIVATE, World


storage_dir = documents_conftest.storage_dir
PDF = sample("valid.pdf")


class Contradictory(World):
    """The consolidation's world with the report sent: round 1 open for 20 days. 1.a and 1.c « Non atteint »,
    1.b and 2.a « Atteint »; a signataire, a contributeur and a lecteur of the EJ."""

    def __init__(self, ej):
        super().__init__(ej)
        self.signataire = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
        self.contributeur = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
        self.lecteur = MembershipFactory(ej=ej, role=MembershipRole.LECTEUR).user
        for code, verdict in (("1.a", "non_atteint"), ("1.b", "atteint"), ("1.c", "non_atteint"), ("2.a", "atteint")):
            self.consolidate(code, verdict, "" if verdict == "atteint" else f"Motivation {code}.", PRIVATE)
        self.deadline = timezone.localdate() + datetime.timedelta(days=20)
        reports.send_report(self.self_evaluation, acting_user=self.ars, deadline=self.deadline)
        self.self_evaluation.refresh_from_db()
        mail.outbox.clear()

    def observe(self, code, text="La cible est atteinte sur l'année entière.", *, by=None, version=0):
        return contradictory.save_observation(
            self.values[code], acting_user=by or self.contributeur, text=text, expected_version=version
        )

    def send(self, by=None):
        return contradictory.send_observations(self.self_evaluation, acting_user=by or self.signataire)

    def answer(self, observation, verdict=None, motivation="", text="Nous maintenons la décision.", by=None):
        observation.refresh_from_db()
        return contradictory.answer_observation(
            observation,
            acting_user=by or self.ars,
            answer=text,
            revised_verdict=verdict,
            motivation=motivation,
            expected_version=observation.version,
        )


@pytest.fixture
def world(ej):
    return Contradictory(ej)


def reload(world):
    return SelfEvaluation.objects.get(pk=world.self_evaluation.pk)


# --- Drafting -------------------------------------------------------------------------------------------


def test_a_contributeur_drafts_an_observation(world):
    observation = world.observe("1.a")
    assert (observation.status, observation.version, observation.round.number) == (ObservationStatus.BROUILLON, 1, 1)
    updated = world.observe("1.a", "Texte revu.", version=1)
    assert (updated.pk, updated.text, updated.version) == (observation.pk, "Texte revu.", 2)
    event = AuditEvent.objects.filter(event_type=EventType.OBSERVATION_SAVED).latest("pk")
    assert event.data == {"code": "1.a", "round": 1, "version": 2}
    assert "Texte revu" not in str(event.data)


@pytest.mark.parametrize(
    ("who", "code", "message"),
    [
        ("lecteur", "1.a", "Votre rôle ne permet pas"),
        ("stranger", "1.a", "Votre rôle ne permet pas"),
        ("ars", "1.a", "Votre rôle ne permet pas"),
        ("contributeur", "1.b", "« Atteint » : il n'y a rien à contester"),
    ],
)
def test_drafting_is_refused_to_others_and_on_atteint(world, who, code, message, other_ej):
    user = {
        "lecteur": world.lecteur,
        "stranger": MembershipFactory(ej=other_ej, role=MembershipRole.SIGNATAIRE).user,
        "ars": world.ars,
        "contributeur": world.contributeur,
    }[who]
    with pytest.raises(contradictory.ObservationRefused, match=message):
        world.observe(code, by=user)
    assert not Observation.objects.exists()


def test_drafting_is_refused_after_the_deadline(world):
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(
        contradictory_deadline=timezone.localdate() - datetime.timedelta(days=1)
    )
    with pytest.raises(contradictory.ObservationRefused, match="La période contradictoire est close depuis le"):
        world.observe("1.a")
    assert not Observation.objects.exists()


def test_an_empty_observation_is_refused(world):
    with pytest.raises(contradictory.ObservationRefused, match="Rédigez vos observations") as refusal:
        world.observe("1.a", "   ")
    assert refusal.value.field == "text"
    assert not Observation.objects.exists()


def test_concurrent_drafts_do_not_overwrite_each_other(world):
    world.observe("1.a", "Premier texte.")
    with pytest.raises(VersionConflict):
        world.observe("1.a", "Texte d'un collègue.", by=world.signataire, version=0)
    assert Observation.objects.get().text == "Premier texte."


def test_documents_are_added_to_an_observation_the_usual_way(world, storage_dir):
    observation = world.observe("1.a")
    document = contradictory.add_observation_document(
        observation, SimpleUploadedFile("Bilan.pdf", PDF), acting_user=world.contributeur
    )
    assert ObservationDocument.objects.get().document == document
    assert document.original_name == "Bilan.pdf"
    stored = {path.name for path in storage_dir.rglob("*") if path.is_file()}
    with pytest.raises(UploadRefused):
        contradictory.add_observation_document(
            observation, SimpleUploadedFile("outil.exe", portable_executable()), acting_user=world.contributeur
        )
    assert Document.objects.count() == 1 and ObservationDocument.objects.count() == 1
    assert {path.name for path in storage_dir.rglob("*") if path.is_file()} == stored
    with pytest.raises(contradictory.ObservationRefused):
        contradictory.add_observation_document(
            observation, SimpleUploadedFile("Autre.pdf", PDF), acting_user=world.lecteur
        )
    assert Document.objects.count() == 1


# --- Sending --------------------------------------------------------------------------------------------


def test_the_signataire_sends_every_draft_at_once_and_the_evaluators_are_emailed(
    world, django_capture_on_commit_callbacks
):
    world.observe("1.a", "Observation sur 1.a, texte confidentiel.")
    world.observe("1.c")
    foreign_ars = UserFactory(ars_staff=True, region=UserFactory._meta.model.objects.get(pk=world.ars.pk).region)
    with django_capture_on_commit_callbacks(execute=True):
        assert world.send() == 2
    assert set(Observation.objects.values_list("status", flat=True)) == {ObservationStatus.ENVOYEE}
    contradictory_round = ContradictoryRound.objects.get()
    assert contradictory_round.observations_sent_by == world.signataire
    # The ARS agents of the region, and the OMEDIT's (1.c is evaluated by the OMEDIT); not the AM's.
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == sorted([world.ars.email, foreign_ars.email, world.omedit.email])
    for message in mail.outbox:
        assert "2 observations" in message.body
        assert "texte confidentiel" not in message.body
        assert "/admin/evaluation/evaluation/" in message.body


def test_sending_is_refused_to_a_contributeur_without_drafts_or_twice(world):
    with pytest.raises(contradictory.ObservationRefused, match="Aucune observation à envoyer"):
        world.send()
    world.observe("1.a")
    with pytest.raises(contradictory.ObservationRefused, match="Seuls les signataires"):
        world.send(by=world.contributeur)
    assert Observation.objects.get().status == ObservationStatus.BROUILLON
    world.send()
    with pytest.raises(contradictory.ObservationRefused, match="ont déjà été envoyées"):
        world.send()
    with pytest.raises(contradictory.ObservationRefused, match="ne peuvent plus changer"):
        world.observe("1.c")


# --- Answers --------------------------------------------------------------------------------------------


@pytest.fixture
def sent(world):
    world.observation = world.observe("1.a")
    world.send()
    return world


def test_a_revised_decision_changes_the_consolidation(sent):
    before = Consolidation.objects.get(value=sent.values["1.a"])
    sent.answer(sent.observation, Verdict.PARTIELLEMENT_ATTEINT, "Revue au vu du bilan.", "Bilan reçu.")
    after = Consolidation.objects.get(value=sent.values["1.a"])
    assert (after.verdict, after.motivation, after.version) == (
        Verdict.PARTIELLEMENT_ATTEINT,
        "Revue au vu du bilan.",
        before.version + 1,
    )
    assert after.private_note == PRIVATE  # kept, never shown
    observation = Observation.objects.get()
    assert (observation.answer, observation.revised_verdict, observation.answered_by) == (
        "Bilan reçu.",
        Verdict.PARTIELLEMENT_ATTEINT,
        sent.ars,
    )


def test_a_maintained_decision_changes_nothing_else(sent):
    before = Consolidation.objects.get(value=sent.values["1.a"])
    sent.answer(sent.observation)
    after = Consolidation.objects.get(value=sent.values["1.a"])
    assert (after.verdict, after.version) == (before.verdict, before.version)
    assert Observation.objects.get().revised_verdict == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "am"}, "Seuls les agents ARS"),
        ({"text": "  "}, "Rédigez la réponse"),
        ({"verdict": Verdict.NON_ATTEINT, "motivation": ""}, "La motivation est obligatoire"),
        ({"verdict": "parfait", "motivation": "x"}, "Choisissez une décision"),
    ],
)
def test_answers_are_refused_with_a_reason(sent, kwargs, message):
    if kwargs.get("by") == "am":
        kwargs["by"] = sent.am
    with pytest.raises(contradictory.ObservationRefused, match=message):
        sent.answer(sent.observation, **kwargs)
    assert Observation.objects.get().answered_at is None


def test_a_draft_cannot_be_answered_and_an_answer_is_final(world):
    draft = world.observe("1.a")
    with pytest.raises(contradictory.ObservationRefused, match="n'a pas été envoyée"):
        world.answer(draft)
    world.send()
    world.answer(draft)
    with pytest.raises(contradictory.ObservationRefused, match="a déjà reçu sa réponse"):
        world.answer(draft, Verdict.ATTEINT)


# --- A new round, the final report ---------------------------------------------------------------------


def test_a_new_round_waits_for_the_answers_then_covers_the_questions_still_contested(
    sent, django_capture_on_commit_callbacks
):
    deadline = timezone.localdate() + datetime.timedelta(days=15)
    with pytest.raises(contradictory.ObservationRefused, match="Répondez d'abord"):
        contradictory.open_next_round(sent.self_evaluation, acting_user=sent.ars, deadline=deadline)
    sent.answer(sent.observation)  # maintained: 1.a still « Non atteint »
    with pytest.raises(contradictory.ObservationRefused, match="postérieure à aujourd'hui"):
        contradictory.open_next_round(sent.self_evaluation, acting_user=sent.ars, deadline=timezone.localdate())
    with django_capture_on_commit_callbacks(execute=True):
        new_round = contradictory.open_next_round(sent.self_evaluation, acting_user=sent.ars, deadline=deadline)
    assert new_round.number == 2
    self_evaluation = reload(sent)
    assert (self_evaluation.state, self_evaluation.contradictory_round, self_evaluation.contradictory_deadline) == (
        SelfEvaluationState.CONTRADICTOIRE,
        2,
        deadline,
    )
    assert self_evaluation.reports.filter(sent_at__isnull=False).count() == 2  # the report, updated, sent again
    assert {message.to[0] for message in mail.outbox} == {sent.signataire.email}
    assert deadline.strftime("%d/%m/%Y") in mail.outbox[0].body
    # Round 2 is about 1.a only: 1.c was not contested in round 1.
    sent.observe("1.a", "Nouvel élément.")
    with pytest.raises(contradictory.ObservationRefused, match="ne porte que sur les questions encore contestées"):
        sent.observe("1.c")


def test_no_new_round_when_nothing_is_still_contested(sent):
    sent.answer(sent.observation, Verdict.ATTEINT, "", "Bilan probant.")
    with pytest.raises(contradictory.ObservationRefused, match="Aucune question n'est encore contestée"):
        contradictory.open_next_round(
            sent.self_evaluation, acting_user=sent.ars, deadline=timezone.localdate() + datetime.timedelta(days=9)
        )
    report = reports.send_final_report(sent.self_evaluation, acting_user=sent.ars)
    assert report.final
    assert reload(sent).state == SelfEvaluationState.DEFINITIVE
    with pytest.raises(contradictory.ObservationRefused):
        sent.observe("1.c")


# --- More refusals, the audit and the transition log ---------------------------------------------------


def test_only_the_region_s_active_agents_of_the_contested_bodies_are_emailed(
    world, other_region, django_capture_on_commit_callbacks
):
    region = world.ars.region
    UserFactory(ars_staff=True, region=other_region)  # another region
    UserFactory(ars_staff=True, region=region, is_active=False)  # deactivated
    UserFactory(omedit_staff=True, region=region)  # 1.a is evaluated by the ARS only
    world.observe("1.a")
    with django_capture_on_commit_callbacks(execute=True):
        assert world.send() == 1
    assert [message.to for message in mail.outbox] == [[world.ars.email]]
    assert "1 observation " in mail.outbox[0].body
    event = AuditEvent.objects.get(event_type=EventType.OBSERVATIONS_SENT)
    assert event.data == {"round": 1, "count": 1, "codes": ["1.a"]}


def test_an_agent_of_another_region_cannot_answer(sent, other_region):
    outsider = UserFactory(ars_staff=True, region=other_region)
    with pytest.raises(contradictory.ObservationRefused, match="Seuls les agents ARS"):
        sent.answer(sent.observation, by=outsider)
    assert Observation.objects.get().answered_at is None


def test_concurrent_answers_do_not_overwrite_each_other(sent):
    sent.observation.refresh_from_db()
    stale = sent.observation.version
    sent.answer(sent.observation, Verdict.ATTEINT, "", "Première réponse.")
    with pytest.raises(contradictory.ObservationRefused, match="a déjà reçu sa réponse"):
        contradictory.answer_observation(
            sent.observation,
            acting_user=sent.ars,
            answer="Seconde réponse.",
            revised_verdict=None,
            motivation="",
            expected_version=stale,
        )
    assert Observation.objects.get().answer == "Première réponse."
    # A stale page on an observation not yet answered: VersionConflict, nothing stored.
    other = Observation.objects.create(
        round=ContradictoryRound.objects.get(),
        value=sent.values["1.c"],
        text="Autre observation.",
        status=ObservationStatus.ENVOYEE,
        sent_at=timezone.now(),
        written_by=sent.contributeur,
        version=1,
    )
    with pytest.raises(VersionConflict):
        contradictory.answer_observation(
            other, acting_user=sent.ars, answer="Réponse.", revised_verdict=None, expected_version=other.version - 1
        )
    assert Observation.objects.get(pk=other.pk).answered_at is None


def test_the_answer_is_audited_without_its_text(sent):
    sent.answer(sent.observation, Verdict.PARTIELLEMENT_ATTEINT, "Motivation revue.", "Réponse confidentielle.")
    event = AuditEvent.objects.get(event_type=EventType.OBSERVATION_ANSWERED)
    assert event.data["from"] == Verdict.NON_ATTEINT and event.data["to"] == Verdict.PARTIELLEMENT_ATTEINT
    assert "confidentielle" not in str(event.data) and "Motivation revue" not in str(event.data)


def test_no_document_on_a_sent_observation(sent, storage_dir):
    with pytest.raises(contradictory.ObservationRefused, match="ont déjà été envoyées"):
        contradictory.add_observation_document(
            sent.observation, SimpleUploadedFile("Bilan.pdf", PDF), acting_user=sent.contributeur
        )
    assert not Document.objects.exists()
    assert not [path for path in storage_dir.rglob("*") if path.is_file()]


def test_a_new_round_is_refused_to_the_am_and_without_observations(world):
    deadline = timezone.localdate() + datetime.timedelta(days=9)
    with pytest.raises(contradictory.ObservationRefused, match="aucune observation"):
        contradictory.open_next_round(world.self_evaluation, acting_user=world.ars, deadline=deadline)
    world.observe("1.a")
    world.send()
    world.answer(Observation.objects.get())
    with pytest.raises(contradictory.ObservationRefused, match="Seuls les agents ARS"):
        contradictory.open_next_round(world.self_evaluation, acting_user=world.am, deadline=deadline)
    with pytest.raises(contradictory.ObservationRefused, match="Indiquez la date limite") as refusal:
        contradictory.open_next_round(world.self_evaluation, acting_user=world.ars, deadline=None)
    assert refusal.value.field == "deadline"
    assert ContradictoryRound.objects.count() == 1
    assert reload(world).contradictory_round == 1
    assert world.self_evaluation.reports.count() == 1


def test_the_new_round_is_in_the_transition_log(sent):
    sent.answer(sent.observation)
    deadline = timezone.localdate() + datetime.timedelta(days=9)
    contradictory.open_next_round(sent.self_evaluation, acting_user=sent.ars, deadline=deadline)
    last = Transition.objects.filter(self_evaluation=sent.self_evaluation).latest("pk")
    assert (last.from_state, last.to_state, last.user) == (
        SelfEvaluationState.CONTRADICTOIRE,
        SelfEvaluationState.CONTRADICTOIRE,
        sent.ars,
    )
    assert ContradictoryRound.objects.get(number=2).deadline == deadline


def test_nothing_is_contested_before_the_report_or_after_the_final_one(ej):
    world = World(ej)
    member = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    world.consolidate("1.a", Verdict.NON_ATTEINT, "Motivation.", PRIVATE)
    with pytest.raises(contradictory.ObservationRefused, match="Aucune période contradictoire n'est ouverte"):
        contradictory.save_observation(world.values["1.a"], acting_user=member, text="Non.", expected_version=0)
    with pytest.raises(contradictory.ObservationRefused, match="Aucune période contradictoire n'est ouverte"):
        contradictory.send_observations(world.self_evaluation, acting_user=member)
    assert not Observation.objects.exists()
