"""Opening a campaign in bulk (`manage.py open_campaign`): every signed contract of the campaign's type in the
campaign's regions gets its self-evaluation, with one empty value per question (for the EJ, or for each ET the
contract covers, as each indicator says), each value linked to the same question's answer in the contract's
previous campaign (`IndicatorValue.previous`), in « Auto-Evaluation » from the campaign's start date (in
« Pré-campagne » before it; a later run on or after that date opens them). Once open, every member of each EJ is
told (« Un mail sera envoyé aux ES pour information »), with the deadline and a link: a `Notice` row per person
and self-evaluation, so that nobody is told twice.

National scale is about 3,000 contracts and 450,000 values. Contracts are handled in batches of BATCH, each in its
own transaction (the campaign row locked, so that two runs queue up), and a batch re-reads which contracts still
lack a self-evaluation: a run that stops resumes where it stopped, and a second run creates and sends nothing.
On PostgreSQL a batch's values are built and written by one `INSERT … SELECT` (the batch's self-evaluations × the
referential's questions × the contract's ET, joined with last year's answers): no row travels through Python
(bench/open_campaign.py measures it against a plain COPY of the same rows); elsewhere (the SQLite demo) they are
built in Python and written with `bulk_create`. The e-mails are rendered once per self-evaluation (the same text
for each member) and each batch's are queued together, in one transaction, once the batch has committed.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.enums import ContractStatus
from contracts.models import Contract, Etablissement, Membership
from ecars.emails import queue_rendered_emails, render_templated_email
from evaluation.enums import AnswerLevel, NoticeKind
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import Campaign, IndicatorValue, Node, Notice, SelfEvaluation, Transition


BATCH = 250

OPENING_REASON = "Ouverture de la campagne"


@dataclass
class Plan:
    """What opening `campaign` on `today` does: the contracts to give a self-evaluation, those skipped (why), the
    self-evaluations waiting in pré-campagne to open, and how many values that makes."""

    campaign: Campaign
    today: datetime.date
    to_create: list[Contract]
    skipped: list[tuple[Contract, str]]
    to_open: list[int]
    values: int
    notices: int = 0

    @property
    def opens(self) -> bool:
        """Whether the auto-évaluation is open on `today` (else the self-evaluations wait in pré-campagne)."""
        return self.campaign.self_assessment_start <= self.today <= self.campaign.self_assessment_deadline


@dataclass
class Result:
    created: int = 0
    opened: int = 0
    values: int = 0
    linked: int = 0
    notices: int = 0
    skipped: list = field(default_factory=list)


class _Questions:
    """The indicators of the campaign's referential for each region (national ones and the region's own)."""

    def __init__(self, campaign: Campaign):
        rows = list(
            Node.objects.indicators()
            .filter(referential_id=campaign.referential_id)
            .order_by("position", "pk")
            .values_list("pk", "region_id", "answer_level", "default_target", "code")
        )
        # National questions first, then the regions' own: the order of a contract's values.
        self.all = [row for row in rows if row[1] is None] + [row for row in rows if row[1] is not None]
        self.by_region: dict[int | None, list[tuple]] = defaultdict(list)
        for pk, region_id, level, target, code in self.all:
            self.by_region[region_id].append((pk, level, target, code))
        self._levels: dict[int, tuple[int, int]] = {}

    def of_region(self, region_id: int) -> list[tuple]:
        return self.by_region[None] + self.by_region.get(region_id, [])

    def levels(self, region_id: int) -> tuple[int, int]:
        """How many questions of the region are asked for the EJ, and how many for each ET."""
        if region_id not in self._levels:
            per_et = sum(level == AnswerLevel.ET for _, level, _, _ in self.of_region(region_id))
            self._levels[region_id] = (len(self.of_region(region_id)) - per_et, per_et)
        return self._levels[region_id]

    def asks_each_etablissement(self, region_id: int) -> bool:
        return self.levels(region_id)[1] > 0

    def values_for(self, region_id: int, etablissements: int) -> int:
        """How many values a contract of the region covering `etablissements` ET gets."""
        per_ej, per_et = self.levels(region_id)
        return per_ej + per_et * etablissements


def candidates(campaign: Campaign):
    """The contracts the campaign evaluates: signed, of its type, of an EJ in one of its regions."""
    return Contract.objects.filter(
        contract_type_id=campaign.contract_type_id,
        status=ContractStatus.SIGNE,
        ej__region__in=campaign.regions.all(),
    )


def _etablissements_of(contract_ids) -> dict[int, list[int]]:
    through = Contract.etablissements.through
    covered = defaultdict(list)
    rows = (
        through.objects.filter(contract_id__in=contract_ids)
        .order_by("etablissement__finess")
        .values_list("contract_id", "etablissement_id")
    )
    for contract_id, etablissement_id in rows:
        covered[contract_id].append(etablissement_id)
    return covered


def plan(campaign: Campaign, *, today: datetime.date) -> Plan:
    """Read-only: what `open_campaign` would do now (the dry run's report)."""
    questions = _Questions(campaign)
    pending = list(
        candidates(campaign)
        .exclude(self_evaluations__campaign=campaign)
        .select_related("ej")
        .order_by("ej__finess", "name", "pk")
    )
    covered = _etablissements_of([contract.pk for contract in pending])
    to_create, skipped, values = [], [], 0
    for contract in pending:
        reason = _skip_reason(contract, questions, covered)
        if reason:
            skipped.append((contract, reason))
            continue
        to_create.append(contract)
        values += questions.values_for(contract.ej.region_id, len(covered[contract.pk]))
    to_open = []
    if campaign.self_assessment_start <= today <= campaign.self_assessment_deadline:
        to_open = list(
            SelfEvaluation.objects.filter(campaign=campaign, state=State.PRE_CAMPAGNE).values_list("pk", flat=True)
        )
    opening = Plan(campaign, today, to_create, skipped, to_open, values)
    if opening.opens:
        opening.notices = _members_to_tell(campaign, to_create)
    return opening


def _members_to_tell(campaign: Campaign, to_create: list[Contract]) -> int:
    """How many opening e-mails a run would queue: members of the EJ of the self-evaluations to create, and of
    those already there (open or about to open) not told yet."""
    existing = SelfEvaluation.objects.filter(campaign=campaign, state__in=[State.AUTO_EVALUATION, State.PRE_CAMPAGNE])
    pairs = [(None, contract.ej_id) for contract in to_create]
    pairs += list(existing.values_list("pk", "contract__ej_id"))
    members = defaultdict(list)
    for ej_id, user_id in Membership.objects.filter(
        ej__in={ej_id for _, ej_id in pairs}, user__is_active=True
    ).values_list("ej_id", "user_id"):
        members[ej_id].append(user_id)
    told = set(
        Notice.objects.filter(self_evaluation__in=existing, kind=NoticeKind.OUVERTURE).values_list(
            "self_evaluation_id", "recipient_id"
        )
    )
    return sum(1 for pk, ej_id in pairs for user_id in members[ej_id] if (pk, user_id) not in told)


def _skip_reason(contract, questions: _Questions, covered) -> str:
    if not covered.get(contract.pk) and questions.asks_each_etablissement(contract.ej.region_id):
        return "aucun établissement rattaché au contrat, alors que la campagne pose des questions par établissement"
    return ""


def open_campaign(
    campaign: Campaign,
    *,
    today: datetime.date,
    acting_user=None,
    progress: Callable[[Iterable, int], Iterable] = lambda items, total: items,
) -> Result:
    """Open `campaign` as the module's docstring says; `progress(batches, total)` wraps the loop (a progress bar).

    Each batch is one transaction: its self-evaluations, values, transitions, notices and audit event are all
    written, or none."""
    result = Result()
    plan_now = plan(campaign, today=today)
    result.skipped = plan_now.skipped
    contract_ids = [contract.pk for contract in plan_now.to_create]
    batches = [contract_ids[start : start + BATCH] for start in range(0, len(contract_ids), BATCH)]
    waiting = [plan_now.to_open[start : start + BATCH] for start in range(0, len(plan_now.to_open), BATCH)]
    questions = _Questions(campaign)
    work = [("create", batch) for batch in batches] + [("open", batch) for batch in waiting]
    for kind, batch in progress(work, len(work)):
        with transaction.atomic():
            locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if kind == "create":
                _create_batch(locked, batch, questions=questions, today=today, result=result)
            else:
                _open_batch(locked, batch, result=result)
            record_event(
                EventType.CAMPAIGN_OPENED,
                actor=acting_user,
                target=locked,
                data={"step": kind, "contracts" if kind == "create" else "self_evaluations": len(batch)},
            )
    if result.created and connection.vendor == "postgresql":
        # Hundreds of thousands of new rows: the planner's statistics, refreshed now rather than whenever autovacuum
        # gets to it, keep the pages that read these tables (the dashboard, the lists) on their good plans.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {IndicatorValue._meta.db_table}, {SelfEvaluation._meta.db_table}")
    if plan_now.opens:
        result.notices = tell_members(campaign)
    return result


def _create_batch(campaign: Campaign, contract_ids: list[int], *, questions: _Questions, today, result: Result):
    # Under the campaign's lock: only the contracts that still have no self-evaluation (a resumed run).
    contracts = list(
        Contract.objects.filter(pk__in=contract_ids)
        .exclude(self_evaluations__campaign=campaign)
        .order_by("pk")
        .values_list("pk", "ej__region_id")
    )
    if not contracts:
        return
    opens = campaign.self_assessment_start <= today <= campaign.self_assessment_deadline
    state = State.AUTO_EVALUATION if opens else State.PRE_CAMPAGNE
    created = SelfEvaluation.objects.bulk_create(
        [SelfEvaluation(contract_id=contract_id, campaign=campaign, state=state) for contract_id, _ in contracts]
    )
    batch = [
        NewSelfEvaluation(self_evaluation.pk, contract_id, region_id)
        for self_evaluation, (contract_id, region_id) in zip(created, contracts, strict=True)
    ]
    values, linked = _write_values(campaign, batch, questions, timezone.now())
    if opens:
        Transition.objects.bulk_create(
            Transition(
                self_evaluation=self_evaluation,
                from_state=State.PRE_CAMPAGNE,
                to_state=State.AUTO_EVALUATION,
                reason=OPENING_REASON,
            )
            for self_evaluation in created
        )
    result.created += len(created)
    result.values += values
    result.linked += linked


def _open_batch(campaign: Campaign, self_evaluation_ids: list[int], *, result: Result):
    """Self-evaluations created in pré-campagne: « Auto-Evaluation » now that the start date has come."""
    waiting = list(
        SelfEvaluation.objects.select_for_update()
        .filter(pk__in=self_evaluation_ids, campaign=campaign, state=State.PRE_CAMPAGNE)
        .values_list("pk", flat=True)
    )
    SelfEvaluation.objects.filter(pk__in=waiting).update(state=State.AUTO_EVALUATION, updated_at=timezone.now())
    Transition.objects.bulk_create(
        Transition(
            self_evaluation_id=pk, from_state=State.PRE_CAMPAGNE, to_state=State.AUTO_EVALUATION, reason=OPENING_REASON
        )
        for pk in waiting
    )
    result.opened += len(waiting)


def _previous_answers(campaign: Campaign, contract_ids: list[int]) -> dict[int, dict[tuple, int]]:
    """{contract pk: {(indicator code, ET pk or None): the value's pk}} in each contract's previous campaign (the
    latest year before this one, as evaluation.earlier reads it), to the questions of that campaign's referential
    (where a code names one question)."""
    latest: dict[int, int] = {}
    earlier = (
        SelfEvaluation.objects.filter(contract_id__in=contract_ids, campaign__year__lt=campaign.year)
        .order_by("contract_id", "-campaign__year", "-campaign__self_assessment_start", "-pk")
        .values_list("contract_id", "pk")
    )
    for contract_id, pk in earlier:
        latest.setdefault(contract_id, pk)
    contract_of = {pk: contract_id for contract_id, pk in latest.items()}
    answers: dict[int, dict[tuple, int]] = defaultdict(dict)
    rows = IndicatorValue.objects.filter(
        self_evaluation_id__in=contract_of, indicator__referential_id=F("self_evaluation__campaign__referential_id")
    ).values_list("pk", "self_evaluation_id", "indicator__code", "etablissement_id")
    for pk, self_evaluation_id, code, etablissement_id in rows:
        answers[contract_of[self_evaluation_id]][(code, etablissement_id)] = pk
    return answers


VALUE_COLUMNS = (
    "self_evaluation_id",
    "indicator_id",
    "etablissement_id",
    "target",
    "previous_id",
    "value",
    "not_applicable",
    "not_applicable_reason",
    "comment",
    "version",
    "updated_at",
)


class NewSelfEvaluation(NamedTuple):
    """A self-evaluation a batch has just created, waiting for its values."""

    pk: int
    contract_id: int
    region_id: int


def _write_values(
    campaign: Campaign, batch: list[NewSelfEvaluation], questions: _Questions, now: datetime.datetime
) -> tuple[int, int]:
    """Write the empty values of the self-evaluations `batch` (one per question of the contract's region, for the
    EJ or for each ET of the contract), each linked to last year's answer; returns (values written, values
    linked)."""
    if connection.vendor == "postgresql":
        return _insert_values(campaign, batch, questions, now)
    return _create_values(campaign, batch, questions, now)


def _create_values(
    campaign: Campaign, batch: list[NewSelfEvaluation], questions: _Questions, now: datetime.datetime
) -> tuple[int, int]:
    """`_write_values` elsewhere (the SQLite demo): the rows built in Python, written with `bulk_create`."""
    covered = _etablissements_of([new.contract_id for new in batch])
    previous = _previous_answers(campaign, [new.contract_id for new in batch])
    values = []
    for new in batch:
        earlier = previous.get(new.contract_id, {})
        for indicator_id, level, target, code in questions.of_region(new.region_id):
            for etablissement_id in covered[new.contract_id] if level == AnswerLevel.ET else [None]:
                values.append(
                    IndicatorValue(
                        self_evaluation_id=new.pk,
                        indicator_id=indicator_id,
                        etablissement_id=etablissement_id,
                        target=target,
                        previous_id=earlier.get((code, etablissement_id)),
                    )
                )
    IndicatorValue.objects.bulk_create(values, batch_size=2000)
    return len(values), sum(value.previous_id is not None for value in values)


def _insert_values(
    campaign: Campaign, batch: list[NewSelfEvaluation], questions: _Questions, now: datetime.datetime
) -> tuple[int, int]:
    """`_write_values` on PostgreSQL, in one statement: the rows `_create_values` builds (the questions as
    `_Questions` reads them, the ET the contract covers, the previous campaign as `_previous_answers` picks it,
    matched on the question's code and the same ET or both none), in the same order, none through Python."""
    asked = questions.all
    through = Contract.etablissements.through
    sql = f"""
        WITH question (indicator_id, region_id, per_etablissement, target, code, rank) AS (
            SELECT * FROM unnest(
                %(indicators)s::bigint[], %(regions)s::bigint[], %(per_et)s::boolean[], %(targets)s::text[],
                %(codes)s::text[]
            ) WITH ORDINALITY
        ),
        new (self_evaluation_id, contract_id, region_id) AS (
            SELECT * FROM unnest(
                %(self_evaluations)s::bigint[], %(contracts)s::bigint[], %(contract_regions)s::bigint[]
            )
        ),
        covered AS (
            SELECT link.contract_id, link.etablissement_id, etablissement.finess
            FROM {through._meta.db_table} link
            JOIN {Etablissement._meta.db_table} etablissement ON etablissement.id = link.etablissement_id
            WHERE link.contract_id = ANY(%(contracts)s::bigint[])
        ),
        earlier AS (
            SELECT DISTINCT ON (before.contract_id) before.contract_id, before.id, campaign.referential_id
            FROM {SelfEvaluation._meta.db_table} before
            JOIN {Campaign._meta.db_table} campaign ON campaign.id = before.campaign_id
            WHERE before.contract_id = ANY(%(contracts)s::bigint[]) AND campaign.year < %(year)s
            ORDER BY before.contract_id, campaign.year DESC, campaign.self_assessment_start DESC, before.id DESC
        ),
        answer AS (
            SELECT earlier.contract_id, node.code, value.etablissement_id, value.id
            FROM earlier
            JOIN {IndicatorValue._meta.db_table} value ON value.self_evaluation_id = earlier.id
            JOIN {Node._meta.db_table} node
                ON node.id = value.indicator_id AND node.referential_id = earlier.referential_id
        ),
        written AS (
            INSERT INTO {IndicatorValue._meta.db_table} ({", ".join(VALUE_COLUMNS)})
            SELECT new.self_evaluation_id, question.indicator_id, covered.etablissement_id, question.target,
                answer.id, '', false, '', '', 1, %(now)s
            FROM new
            JOIN question ON question.region_id IS NULL OR question.region_id = new.region_id
            LEFT JOIN covered ON question.per_etablissement AND covered.contract_id = new.contract_id
            LEFT JOIN answer ON answer.contract_id = new.contract_id AND answer.code = question.code
                AND answer.etablissement_id IS NOT DISTINCT FROM covered.etablissement_id
            WHERE NOT question.per_etablissement OR covered.etablissement_id IS NOT NULL
            ORDER BY new.self_evaluation_id, question.rank, covered.finess
            RETURNING previous_id
        )
        SELECT count(*), count(previous_id) FROM written
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "indicators": [pk for pk, _, _, _, _ in asked],
                "regions": [region_id for _, region_id, _, _, _ in asked],
                "per_et": [level == AnswerLevel.ET for _, _, level, _, _ in asked],
                "targets": [target for _, _, _, target, _ in asked],
                "codes": [code for _, _, _, _, code in asked],
                "self_evaluations": [new.pk for new in batch],
                "contracts": [new.contract_id for new in batch],
                "contract_regions": [new.region_id for new in batch],
                "year": campaign.year,
                "now": now,
            },
        )
        values, linked = cursor.fetchone()
    return values, linked


def tell_members(campaign: Campaign) -> int:
    """« Un mail sera envoyé aux ES pour information »: every active member of the EJ of each self-evaluation of
    the campaign in « Auto-Evaluation » who was not told yet gets the opening e-mail (a `Notice`), with the deadline
    and a link to the contract. Returns how many were queued. Idempotent.

    The e-mail says nothing of its recipient: it is rendered once per self-evaluation, and each batch's e-mails are
    queued together once the batch (its notices) has committed."""
    open_ones = SelfEvaluation.objects.filter(campaign=campaign, state=State.AUTO_EVALUATION)
    told = set(
        Notice.objects.filter(self_evaluation__in=open_ones, kind=NoticeKind.OUVERTURE).values_list(
            "self_evaluation_id", "recipient_id"
        )
    )
    members = defaultdict(list)
    for ej_id, user_id, email in (
        Membership.objects.filter(ej__contracts__self_evaluations__in=open_ones, user__is_active=True)
        .order_by("user__email")
        .values_list("ej_id", "user_id", "user__email")
        .distinct()
    ):
        members[ej_id].append((user_id, email))
    queued = 0
    self_evaluations = list(open_ones.select_related("contract__ej").order_by("pk"))
    for self_evaluation in self_evaluations:
        self_evaluation.campaign = campaign
    for start in range(0, len(self_evaluations), BATCH):
        with transaction.atomic():
            Campaign.objects.select_for_update().get(pk=campaign.pk)
            batch = self_evaluations[start : start + BATCH]
            # Under the lock, those told by a concurrent run since the first read.
            told |= set(
                Notice.objects.filter(self_evaluation__in=batch, kind=NoticeKind.OUVERTURE).values_list(
                    "self_evaluation_id", "recipient_id"
                )
            )
            notices, messages = [], []
            for self_evaluation in batch:
                recipients = [
                    (user_id, email)
                    for user_id, email in members[self_evaluation.contract.ej_id]
                    if (self_evaluation.pk, user_id) not in told
                ]
                if not recipients:
                    continue
                notices += [
                    Notice(
                        self_evaluation=self_evaluation,
                        kind=NoticeKind.OUVERTURE,
                        recipient_id=user_id,
                        deadline=self_evaluation.deadline,
                    )
                    for user_id, _ in recipients
                ]
                subject, body, html_body = render_templated_email(
                    "evaluation/email/campaign_opened", _context(self_evaluation)
                )
                messages.append((subject, body, html_body, [email for _, email in recipients]))
            Notice.objects.bulk_create(notices)
            queue_rendered_emails(messages)
            if notices:
                record_event(
                    EventType.NOTICES_QUEUED,
                    target=campaign,
                    data={"kind": NoticeKind.OUVERTURE, "notices": len(notices)},
                )
            queued += len(notices)
    return queued


def _context(self_evaluation: SelfEvaluation) -> dict:
    contract = self_evaluation.contract
    return {
        "campaign": self_evaluation.campaign,
        "contract": contract,
        "ej": contract.ej,
        "deadline": self_evaluation.deadline,
        "contract_url": settings.SITE_URL + reverse("contracts:contract_detail", args=[contract.public_id]),
    }
