"""`manage.py open_campaign`: the self-evaluations and empty values of every signed contract of the campaign's
regions, linked to last year's answers, opened on the start date, the members told once; dry run, second run,
resumed run, broken inputs."""

import datetime
import io

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import ContractStatus
from evaluation import campaigns
from evaluation.enums import AnswerLevel, NoticeKind, SelfEvaluationState, ValueType
from evaluation.models import IndicatorValue, Notice, SelfEvaluation, Transition
from tests.accounts.factories import UserFactory
from tests.contracts.factories import (
    ContractFactory,
    ContractTypeFactory,
    EntiteJuridiqueFactory,
    EtablissementFactory,
    MembershipFactory,
    RegionFactory,
    _luhn_key,
)
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, ReferentialFactory


START = datetime.date(2026, 3, 1)
DEADLINE = datetime.date(2026, 4, 30)


class World:
    """A campaign of two regions' referential in region A: EJ 1 (two ET, two members, one inactive), EJ 2 (no ET,
    skipped: the campaign asks questions per ET), a contract not signed, a contract of another type, an EJ of a
    region outside the campaign; last year's campaign answered by EJ 1."""

    def __init__(self):
        self.region = RegionFactory()
        self.other_region = RegionFactory()
        caqes = ContractTypeFactory(code="CAQES")
        referential = ReferentialFactory(contract_type=caqes)
        objective = NodeFactory(referential=referential, code="1", label="Objectif 1", position=1)
        self.q_ej = NodeFactory(
            referential=referential, parent=objective, code="1.1", label="Livret", position=2, oui_non=True
        )
        self.q_rate = NodeFactory(referential=referential, parent=objective, code="1.2", position=3, taux=True)
        self.q_et = NodeFactory(
            referential=referential,
            parent=objective,
            code="1.3",
            position=4,
            value_type=ValueType.NOMBRE,
            answer_level=AnswerLevel.ET,
        )
        self.q_regional = NodeFactory(
            referential=referential, parent=objective, code="1.4", position=5, texte=True, region=self.region
        )
        NodeFactory(
            referential=referential, parent=objective, code="1.5", position=6, texte=True, region=self.other_region
        )
        self.campaign = CampaignFactory(
            code="caqes-2025",
            name="CAQES 2025",
            contract_type=caqes,
            referential=referential,
            year=2025,
            precampaign_start=None,
            precampaign_end=None,
            self_assessment_start=START,
            self_assessment_deadline=DEADLINE,
        )
        self.campaign.regions.set([self.region])

        self.ej = EntiteJuridiqueFactory(region=self.region, name="CH DE RODEZ")
        self.ets = [EtablissementFactory(ej=self.ej), EtablissementFactory(ej=self.ej)]
        self.contract = ContractFactory(ej=self.ej, contract_type=caqes, name="CAQES RODEZ")
        self.contract.etablissements.set(self.ets)
        self.member = MembershipFactory(ej=self.ej, user=UserFactory(email="qualite@ch-rodez.fr")).user
        self.signataire = MembershipFactory(ej=self.ej, user=UserFactory(email="directeur@ch-rodez.fr")).user
        MembershipFactory(ej=self.ej, user=UserFactory(email="parti@ch-rodez.fr", is_active=False))

        self.ej_without_et = EntiteJuridiqueFactory(region=self.region)
        self.contract_without_et = ContractFactory(ej=self.ej_without_et, contract_type=caqes)
        MembershipFactory(ej=self.ej_without_et)
        ContractFactory(
            ej=EntiteJuridiqueFactory(region=self.region), contract_type=caqes, status=ContractStatus.EN_PREPARATION
        )
        ContractFactory(ej=self.ej, contract_type=ContractTypeFactory(code="CPOM"))
        ContractFactory(ej=EntiteJuridiqueFactory(region=self.other_region), contract_type=caqes)

        # Last year: EJ 1 answered the same questions.
        last_year = CampaignFactory(
            code="caqes-2024",
            contract_type=caqes,
            referential=referential,
            year=2024,
            self_assessment_start=datetime.date(2025, 3, 1),
            self_assessment_deadline=datetime.date(2025, 4, 30),
        )
        last_year.regions.set([self.region])
        before = SelfEvaluation.objects.create(
            contract=self.contract,
            campaign=last_year,
            state=SelfEvaluationState.CLOTUREE,
            closed_at=datetime.datetime(2025, 4, 20, tzinfo=datetime.UTC),
        )
        self.last_answer = IndicatorValueFactory(
            self_evaluation=before, indicator=self.q_ej, value="1", comment="Fait"
        )
        self.last_et_answer = IndicatorValueFactory(
            self_evaluation=before, indicator=self.q_et, etablissement=self.ets[1], value="12"
        )


@pytest.fixture
def world():
    return World()


def run(*args, wet=True, day=START):
    out = io.StringIO()
    call_command(
        "open_campaign",
        *args,
        *(["--wet-run"] if wet else []),
        "--date",
        day.isoformat(),
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


def opened(world):
    return SelfEvaluation.objects.filter(campaign=world.campaign)


def test_the_dry_run_says_what_it_would_do_and_writes_nothing(world, django_capture_on_commit_callbacks):
    events = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        output = run("caqes-2025", wet=False)
    assert "Simulation" in output
    assert "auto-évaluations à créer, à l'état « Auto-Evaluation » : 1" in output
    # 2 EJ questions, 1 question for each of the 2 ET, the region's own question.
    assert "valeurs à créer : 5" in output
    assert "courriels d'ouverture à envoyer : 2" in output
    assert f"Non ouvert : {world.ej_without_et.finess}" in output
    assert not opened(world).exists()
    assert IndicatorValue.objects.count() == 2
    assert AuditEvent.objects.count() == events
    assert mail.outbox == []


def test_the_wet_run_opens_every_signed_contract_of_the_region(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("caqes-2025")
    assert "auto-évaluations créées, à l'état « Auto-Evaluation » : 1" in output
    self_evaluation = opened(world).get()
    assert self_evaluation.contract == world.contract
    assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION
    values = IndicatorValue.objects.filter(self_evaluation=self_evaluation)
    assert sorted((value.indicator.code, value.etablissement_id) for value in values) == sorted(
        [("1.1", None), ("1.2", None), ("1.3", world.ets[0].pk), ("1.3", world.ets[1].pk), ("1.4", None)]
    )
    assert all(value.value == "" and value.version == 1 for value in values)
    assert values.get(indicator=world.q_rate).target == "80"  # the indicator's default target
    # Last year's answers, linked for reference: the same question, for the EJ or the same ET.
    assert values.get(indicator=world.q_ej).previous == world.last_answer
    assert values.get(indicator=world.q_et, etablissement=world.ets[1]).previous == world.last_et_answer
    assert values.get(indicator=world.q_et, etablissement=world.ets[0]).previous is None
    assert "valeurs reliées à la réponse de l'année précédente : 2" in output
    transition = Transition.objects.get(self_evaluation=self_evaluation)
    assert (transition.from_state, transition.to_state, transition.user) == (
        SelfEvaluationState.PRE_CAMPAGNE,
        SelfEvaluationState.AUTO_EVALUATION,
        None,
    )
    assert transition.reason == "Ouverture de la campagne"
    assert AuditEvent.objects.filter(event_type=EventType.CAMPAIGN_OPENED).exists()
    # The contract without ET is named, not opened.
    assert f"Non ouvert : {world.ej_without_et.finess}" in output


def test_every_active_member_is_told_once_with_the_deadline_and_a_link(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run("caqes-2025")
    assert sorted(message.to[0] for message in mail.outbox) == ["directeur@ch-rodez.fr", "qualite@ch-rodez.fr"]
    message = mail.outbox[0]
    assert "Auto-évaluation ouverte jusqu'au 30/04/2026" in message.subject
    assert "CAQES RODEZ" in message.body and "30/04/2026" in message.body
    assert f"{settings.SITE_URL}/contrats/{world.contract.public_id}/" in message.body
    notices = Notice.objects.filter(kind=NoticeKind.OUVERTURE)
    assert {notice.recipient for notice in notices} == {world.member, world.signataire}
    assert {notice.deadline for notice in notices} == {DEADLINE}


def test_a_second_run_creates_nothing_and_sends_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run("caqes-2025")
    values, notices, transitions = IndicatorValue.objects.count(), Notice.objects.count(), Transition.objects.count()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        output = run("caqes-2025", day=START + datetime.timedelta(days=3))
    assert "Rien à faire" in output
    assert "auto-évaluations créées, à l'état « Auto-Evaluation » : 0" in output
    assert (IndicatorValue.objects.count(), Notice.objects.count(), Transition.objects.count()) == (
        values,
        notices,
        transitions,
    )
    assert mail.outbox == []


def test_a_member_added_later_is_told_at_the_next_run(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run("caqes-2025")
    mail.outbox.clear()
    newcomer = MembershipFactory(ej=world.ej, user=UserFactory(email="nouveau@ch-rodez.fr")).user
    with django_capture_on_commit_callbacks(execute=True):
        run("caqes-2025", day=START + datetime.timedelta(days=1))
    assert [message.to for message in mail.outbox] == [["nouveau@ch-rodez.fr"]]
    assert Notice.objects.filter(recipient=newcomer).count() == 1


def test_before_the_start_date_the_self_evaluations_wait_in_precampaign(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("caqes-2025", day=START - datetime.timedelta(days=5))
    assert "« Pré-campagne » (ouverture le jour venu) : 1" in output
    self_evaluation = opened(world).get()
    assert self_evaluation.state == SelfEvaluationState.PRE_CAMPAGNE
    assert IndicatorValue.objects.filter(self_evaluation=self_evaluation).count() == 5
    assert not Transition.objects.filter(self_evaluation=self_evaluation).exists()
    assert mail.outbox == []

    # On the start date, the same command opens them and tells the members.
    with django_capture_on_commit_callbacks(execute=True):
        output = run("caqes-2025", day=START)
    assert "auto-évaluations en pré-campagne ouvertes : 1" in output
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION
    assert Transition.objects.filter(self_evaluation=self_evaluation, to_state="auto_evaluation").count() == 1
    assert len(mail.outbox) == 2
    assert IndicatorValue.objects.filter(self_evaluation=self_evaluation).count() == 5


def test_an_interrupted_run_resumes_where_it_stopped(world, monkeypatch, django_capture_on_commit_callbacks):
    """A run that fails in its second batch keeps the first (its own transaction), writes nothing of the second, and
    says so; the next run creates only what is missing."""
    world.contract_without_et.etablissements.set([EtablissementFactory(ej=world.ej_without_et)])
    monkeypatch.setattr(campaigns, "BATCH", 1)
    write_values = campaigns._write_values
    batches = []

    def disk_full_at_the_second_batch(campaign, batch, *args):
        batches.append(batch)
        if len(batches) == 2:
            raise OSError(28, "No space left on device")
        return write_values(campaign, batch, *args)

    monkeypatch.setattr(campaigns, "_write_values", disk_full_at_the_second_batch)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError) as failure:
        run("caqes-2025")
    assert "La commande a échoué" in str(failure.value) and "relancez-la" in str(failure.value)
    assert opened(world).count() == 1
    first = opened(world).get()
    values = IndicatorValue.objects.filter(self_evaluation=first).count()

    monkeypatch.setattr(campaigns, "_write_values", write_values)
    with django_capture_on_commit_callbacks(execute=True):
        output = run("caqes-2025")
    assert "auto-évaluations créées, à l'état « Auto-Evaluation » : 1" in output
    assert opened(world).count() == 2
    assert IndicatorValue.objects.filter(self_evaluation=first).count() == values
    second = opened(world).exclude(pk=first.pk).get()
    assert IndicatorValue.objects.filter(self_evaluation=second).count() == 4


def test_an_unknown_campaign_is_refused(world):
    with pytest.raises(CommandError, match="Campagne « caqes-1999 » inconnue. Campagnes existantes : .*caqes-2025"):
        run("caqes-1999")
    assert not opened(world).exists()


def test_after_the_deadline_nothing_is_opened(world, django_capture_on_commit_callbacks):
    with pytest.raises(CommandError, match="La date limite de la campagne \\(30/04/2026\\) est passée"):
        run("caqes-2025", day=DEADLINE + datetime.timedelta(days=1))
    assert not opened(world).exists()


def test_a_bad_date_is_refused(world):
    with pytest.raises(CommandError, match="Date « 31/02/2026 » invalide"):
        call_command("open_campaign", "caqes-2025", "--date", "31/02/2026", stdout=io.StringIO())


class Years:
    """One contract (an EJ of two ET, one member) answered in 2023 and 2024 on another referential than 2025's, whose
    questions have the same codes: 1.1 for the EJ, 1.3 for each ET, 1.4 the region's own, 1.6 asked for the EJ
    in 2024 and for each ET in 2025; 1.2 is new in 2025."""

    def __init__(self):
        self.region = RegionFactory()
        caqes = ContractTypeFactory()
        this_year, before = ReferentialFactory(contract_type=caqes), ReferentialFactory(contract_type=caqes)

        def questions(referential, *, new):
            objective = NodeFactory(referential=referential, code="1", position=1)
            asked = {
                "1.1": NodeFactory(referential=referential, parent=objective, code="1.1", position=2, oui_non=True),
                "1.3": NodeFactory(
                    referential=referential, parent=objective, code="1.3", position=4, nombre=True, answer_level="et"
                ),
                "1.4": NodeFactory(
                    referential=referential, parent=objective, code="1.4", position=5, texte=True, region=self.region
                ),
                "1.6": NodeFactory(
                    referential=referential,
                    parent=objective,
                    code="1.6",
                    position=7,
                    nombre=True,
                    answer_level="et" if new else "ej",
                ),
            }
            if new:
                asked["1.2"] = NodeFactory(
                    referential=referential, parent=objective, code="1.2", position=3, taux=True
                )
            return asked

        self.questions = questions(this_year, new=True)
        earlier_questions = questions(before, new=False)
        self.ej = EntiteJuridiqueFactory(region=self.region)
        # Their FINESS in the reverse order of their creation: the ET's values follow the FINESS.
        created_first = EtablissementFactory(ej=self.ej)
        digits = "12" + created_first.finess[2:8]
        self.ets = [created_first, EtablissementFactory(ej=self.ej, finess=digits + _luhn_key(digits))]
        self.contract = ContractFactory(ej=self.ej, contract_type=caqes)
        self.contract.etablissements.set(self.ets)
        MembershipFactory(ej=self.ej)
        self.campaign = CampaignFactory(
            contract_type=caqes,
            referential=this_year,
            year=2025,
            self_assessment_start=START,
            self_assessment_deadline=DEADLINE,
            regions=[self.region],
        )
        self.answers = {}
        for year in (2023, 2024):
            campaign = CampaignFactory(
                contract_type=caqes,
                referential=before,
                year=year,
                self_assessment_start=datetime.date(year + 1, 3, 1),
                self_assessment_deadline=datetime.date(year + 1, 4, 30),
                regions=[self.region],
            )
            self_evaluation = SelfEvaluation.objects.create(
                contract=self.contract,
                campaign=campaign,
                state=SelfEvaluationState.CLOTUREE,
                closed_at=datetime.datetime(year + 1, 4, 20, tzinfo=datetime.UTC),
            )
            for code in ("1.1", "1.4", "1.6"):
                self.answers[year, code, None] = IndicatorValueFactory(
                    self_evaluation=self_evaluation, indicator=earlier_questions[code], value=str(year)
                )
            for etablissement in self.ets:
                self.answers[year, "1.3", etablissement.pk] = IndicatorValueFactory(
                    self_evaluation=self_evaluation,
                    indicator=earlier_questions["1.3"],
                    etablissement=etablissement,
                    value=str(year),
                )


@pytest.mark.parametrize("writer", ["sql", "python"])
def test_each_value_is_linked_to_the_same_question_last_year(writer, monkeypatch):
    """The same code, for the EJ or for the same ET, in the contract's latest earlier campaign, whatever its
    referential; a new question, or one asked per ET this year and for the EJ last year, has no previous answer.
    The SQL statement of PostgreSQL and the Python of the SQLite demo write the same rows, in the same order."""
    if writer == "python":
        monkeypatch.setattr(campaigns, "_insert_values", campaigns._create_values)
    years = Years()
    result = campaigns.open_campaign(years.campaign, today=START)
    values = list(IndicatorValue.objects.filter(self_evaluation__campaign=years.campaign).order_by("pk"))
    first, second = sorted(years.ets, key=lambda etablissement: etablissement.finess)
    # National questions in the referential's order (each ET by FINESS), then the region's own.
    assert [(value.indicator.code, value.etablissement_id) for value in values] == [
        ("1.1", None),
        ("1.2", None),
        ("1.3", first.pk),
        ("1.3", second.pk),
        ("1.6", first.pk),
        ("1.6", second.pk),
        ("1.4", None),
    ]
    assert [value.previous for value in values] == [
        years.answers[2024, "1.1", None],
        None,
        years.answers[2024, "1.3", first.pk],
        years.answers[2024, "1.3", second.pk],
        None,
        None,
        years.answers[2024, "1.4", None],
    ]
    assert (result.values, result.linked) == (7, 4)
    assert [value.target for value in values][:2] == ["1", "80"]
    assert all(value.value == "" and value.version == 1 and value.updated_at for value in values)


def test_a_batch_costs_the_same_queries_whatever_its_size():
    """Set-wise: the values, the links, the notices and the e-mails of a batch cost a fixed number of queries,
    whatever the number of contracts, questions and members."""

    def opened(contracts):
        years = Years()
        for _ in range(contracts - 1):
            other = ContractFactory(
                ej=EntiteJuridiqueFactory(region=years.region), contract_type=years.contract.contract_type
            )
            other.etablissements.set([EtablissementFactory(ej=other.ej)])
            MembershipFactory(ej=other.ej)
            MembershipFactory(ej=other.ej)
        with CaptureQueriesContext(connection) as queries:
            result = campaigns.open_campaign(years.campaign, today=START)
        assert result.created == contracts
        return len(queries)

    assert opened(1) == opened(4)


def test_each_member_gets_the_same_message_on_their_own(world, django_capture_on_commit_callbacks, settings):
    """The opening e-mail says nothing of its recipient: rendered once for the self-evaluation, queued for each
    member in a task of their own (here through the database backend of production)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        run("caqes-2025")
    tasks = DBTaskResult.objects.filter(task_path="ecars.emails.send_email")
    messages = [task.args_kwargs["kwargs"] for task in tasks]
    assert sorted(message["to"] for message in messages) == [["directeur@ch-rodez.fr"], ["qualite@ch-rodez.fr"]]
    assert len({(message["subject"], message["body"], message["html_body"]) for message in messages}) == 1
    assert "CAQES RODEZ" in messages[0]["body"]
