"""The evaluation report: its content, its PDF, its versions, its sending, and the read receipt.

- `report_context` / `report_html` / `render_report_pdf`: « Rapport d'évaluation <année> » (« Rapport
  définitif <année> » for the final one): the contract, the EJ, the campaign, the version; for each objective
  its questions with the target, the establishment's answer, the consolidated decision and its motivation;
  totals by objective and overall; the intéressement amount. Never a private note (neither the bodies' nor
  the consolidation's): they are not even read here.
- `generate_report`: « Générer le rapport », a new version n + 1 (a new row and a new file, never an
  overwrite), not sent: the agents download it to check it.
- `send_report`: « Envoyer le rapport », « En évaluation » → « Rapport envoyé » → « Période contradictoire »
  (round 1, evaluation.rounds), the signataires told by e-mail with a link (no attachment).
- `send_final_report`: « Envoyer le rapport définitif », from the période contradictoire once every
  observation sent in the round has its answer, or once its deadline passed without observations.
- `issue_report`: generate, mark sent and e-mail a version: what the three steps above (and a new round,
  evaluation.contradictory) do to publish a report.
- `record_download`: the first download by a member of the EJ is the read receipt (« Lu le … par … »).

The PDF is rendered by WeasyPrint from templates/evaluation/report.html, self-contained (no URL fetched).
"""

import contextlib
import datetime
import hashlib
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.models import Membership
from contracts.perms import in_region, role_in_ej
from documents.integrity import Kind
from documents.names import contract_file_name
from ecars import privileges
from ecars.emails import send_templated_email
from ecars.lib.http import RequestContext
from evaluation import rounds, services, values
from evaluation.consolidation import missing_consolidations
from evaluation.enums import ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import Consolidation, ContradictoryRound, Report, SelfEvaluation
from evaluation.perms import abilities_for
from evaluation.tree import Branch, build_tree


PARIS = zoneinfo.ZoneInfo("Europe/Paris")


class ReportRefused(Exception):
    """The report cannot be generated or sent now; the message is shown to the agent, `field` names the form's
    field it is about (the deadline), if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class ReportNotStored(Exception):
    """The report's file could not be stored intact: nothing is recorded."""


# --- Content ---------------------------------------------------------------------------------------


def format_amount(amount: Decimal | None) -> str:
    """« 12 345,00 € » (non-breaking spaces), « non renseigné » without an amount."""
    if amount is None:
        return "non renseigné"
    grouped = f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return f"{grouped}\u00a0€"


@dataclass
class Totals:
    counts: dict = field(default_factory=lambda: dict.fromkeys(Verdict.values, 0))

    def add(self, verdict: str) -> None:
        self.counts[verdict] += 1

    @property
    def rows(self) -> list[tuple[str, int]]:
        """(« Atteint », n), (« Partiellement atteint », n)… in the verdicts' order."""
        return [(Verdict(verdict).label, count) for verdict, count in self.counts.items()]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _branch_questions(branch: Branch) -> list:
    questions = list(branch.questions)
    for child in branch.children:
        questions.extend(_branch_questions(child))
    return questions


def report_title(year: int, *, final: bool) -> str:
    return f"Rapport définitif {year}" if final else f"Rapport d'évaluation {year}"


def report_context(
    self_evaluation: SelfEvaluation, *, version: int, final: bool = False, generated_at: datetime.datetime
) -> dict:
    """What the report shows (see the module's docstring). Four queries, whatever the number of questions."""
    tree = build_tree(self_evaluation)
    # Only what the establishment may read: the private note is never selected.
    consolidations = {
        value_id: (verdict, motivation)
        for value_id, verdict, motivation in Consolidation.objects.filter(
            value__self_evaluation=self_evaluation
        ).values_list("value_id", "verdict", "motivation")
    }
    overall = Totals()
    objectives = []
    for root in tree.roots:
        totals = Totals()
        questions = []
        for question in _branch_questions(root):
            answer = question.value
            verdict, motivation = consolidations.get(answer.pk, ("", ""))
            if verdict:
                totals.add(verdict)
                overall.add(verdict)
            questions.append(
                {
                    "code": question.node.code,
                    "label": question.node.label,
                    "etablissement": (
                        f"{answer.etablissement.finess} - {answer.etablissement.name}" if answer.etablissement else ""
                    ),
                    "target": values.display(question.node.value_type, answer.target) if answer.target else "",
                    "not_applicable": answer.not_applicable,
                    "justification": answer.not_applicable_reason,
                    "shown": values.display(question.node.value_type, answer.value),
                    "verdict": Verdict(verdict).label if verdict else "",
                    "motivation": motivation,
                }
            )
        objectives.append({"code": root.node.code, "label": root.node.label, "questions": questions, "totals": totals})
    contract = self_evaluation.contract
    campaign = self_evaluation.campaign
    return {
        "title": report_title(campaign.year, final=final),
        "final": final,
        "version": version,
        "generated_on": timezone.localtime(generated_at, PARIS).strftime("%d/%m/%Y"),
        "ej": contract.ej,
        "contract": contract,
        "contract_type": contract.contract_type,
        "campaign": campaign,
        "objectives": objectives,
        "totals": overall,
        "amount": format_amount(self_evaluation.incentive_amount),
    }


def report_html(
    self_evaluation: SelfEvaluation, *, version: int, final: bool = False, generated_at: datetime.datetime
) -> str:
    context = report_context(self_evaluation, version=version, final=final, generated_at=generated_at)
    return render_to_string("evaluation/report.html", context)


def render_report_pdf(
    self_evaluation: SelfEvaluation, *, version: int, final: bool = False, generated_at: datetime.datetime
) -> bytes:
    """The report as PDF bytes."""
    import weasyprint  # a heavy import, only needed here

    class NoFetching(weasyprint.urls.URLFetcher):
        """The report is self-contained: nothing is fetched, not even a local file."""

        def fetch(self, url, headers=None):
            raise weasyprint.urls.FatalURLFetchingError(f"Ressource externe refusée dans le rapport : {url}")

    html = report_html(self_evaluation, version=version, final=final, generated_at=generated_at)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=NoFetching()).write_pdf()


def report_filename(report: Report) -> str:
    """« rapport-<FINESS>-<contract>-<year>-v<n>.pdf », « rapport-definitif-… » for the final one (documents/names.py).
    `report.self_evaluation` with its contract's EJ and its campaign loaded."""
    self_evaluation = report.self_evaluation
    kind = "rapport-definitif" if report.final else "rapport"
    return contract_file_name(
        kind, self_evaluation.contract, self_evaluation.campaign.year, f"v{report.version}", extension="pdf"
    )


# --- Writes ----------------------------------------------------------------------------------------


def _lock(self_evaluation_id: int) -> SelfEvaluation:
    return (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej", "contract__contract_type")
        .get(pk=self_evaluation_id)
    )


NOT_REPORTING = "Seuls les agents ARS de la région de l'établissement génèrent et envoient les rapports d'évaluation."


def _check_reporting(locked: SelfEvaluation, acting_user) -> None:
    """ReportRefused unless `acting_user` may generate and send reports of `locked` now (`Abilities.reporting`)."""
    if abilities_for(locked, acting_user).reporting:
        return
    if privileges.allows(acting_user, "evaluation.evaluation", "report") and in_region(
        acting_user, locked.contract.ej.region_id
    ):
        raise ReportRefused(
            f"Aucun rapport ne peut être généré ni envoyé à l'état « {locked.get_state_display()} » : "
            "seulement en évaluation et pendant la période contradictoire."
        )
    raise ReportRefused(NOT_REPORTING)


def _check_complete(locked: SelfEvaluation) -> None:
    missing = missing_consolidations(locked)
    if missing:
        plural = "s" if missing > 1 else ""
        raise ReportRefused(
            f"{missing} question{plural} n'{'ont' if missing > 1 else 'a'} pas encore de décision consolidée : "
            "chaque question doit en avoir une avant le rapport."
        )


def _generate(locked: SelfEvaluation, *, acting_user, final: bool, context: RequestContext | None) -> Report:
    """A new version of the report of `locked` (locked by the caller), stored and checked; not sent."""
    _check_complete(locked)
    version = (locked.reports.aggregate(last=Max("version"))["last"] or 0) + 1
    generated_at = timezone.now()
    pdf = render_report_pdf(locked, version=version, final=final, generated_at=generated_at)
    report = Report(
        self_evaluation=locked,
        version=version,
        final=final,
        file_sha256=hashlib.sha256(pdf).hexdigest(),
        generated_by=acting_user,
        generated_at=generated_at,
    )
    report.file.save(report_filename(report), ContentFile(pdf), save=False)
    try:
        with report.file.open("rb") as stored:
            if hashlib.sha256(stored.read()).hexdigest() != report.file_sha256:
                raise ReportNotStored("Le rapport n'a pas été enregistré intact.")
        report.save()
        record_event(
            EventType.REPORT_GENERATED,
            actor=acting_user,
            ej=locked.contract.ej,
            target=locked,
            data={"version": version, "final": final, "sha256": report.file_sha256},
            context=context,
        )
    except BaseException:
        # The transaction rolls back: leave no orphan file behind (best effort).
        with contextlib.suppress(Exception):
            report.file.storage.delete(report.file.name)
        raise
    return report


@transaction.atomic
def generate_report(
    self_evaluation: SelfEvaluation, *, acting_user, final: bool = False, context: RequestContext | None = None
) -> Report:
    """« Générer le rapport »: a new, unsent version (n + 1) that the agents download to check it. ARS agents
    of the region (`Abilities.reporting`), once every question has a consolidated decision."""
    locked = _lock(self_evaluation.pk)
    _check_reporting(locked, acting_user)
    return _generate(locked, acting_user=acting_user, final=final, context=context)


def issue_report(locked: SelfEvaluation, *, acting_user, final: bool, context: RequestContext | None) -> Report:
    """Generate a new version of the report of `locked` (a self-evaluation the caller has locked, inside its
    transaction, already in the state the report goes with), mark it sent, and e-mail the EJ's signataires a
    link to the contract page (never the file). Not final: the e-mail gives `locked.contradictory_deadline`."""
    report = _generate(locked, acting_user=acting_user, final=final, context=context)
    report.sent_at = timezone.now()
    report.sent_by = acting_user
    report.save(update_fields=["sent_at", "sent_by"])
    deadline = None if final else locked.contradictory_deadline
    record_event(
        EventType.REPORT_SENT,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={"version": report.version, "final": final, "deadline": deadline.isoformat() if deadline else None},
        context=context,
    )
    _email_signataires(locked, report, deadline=deadline)
    return report


def _email_signataires(locked: SelfEvaluation, report: Report, *, deadline) -> None:
    contract = locked.contract
    recipients = sorted(
        set(
            Membership.objects.signataires()
            .filter(ej=contract.ej, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not recipients:
        return
    send_templated_email(
        "evaluation/email/report_final" if report.final else "evaluation/email/report_sent",
        to=recipients,
        context={
            "title": report_title(locked.campaign.year, final=report.final),
            "ej": contract.ej,
            "contract": contract,
            "campaign": locked.campaign,
            "version": report.version,
            "deadline": deadline,
            "contract_url": settings.SITE_URL + reverse("contracts:contract_detail", args=[contract.public_id]),
        },
    )


@transaction.atomic
def send_report(
    self_evaluation: SelfEvaluation,
    *,
    acting_user,
    deadline: datetime.date | None = None,
    context: RequestContext | None = None,
) -> Report:
    """« Envoyer le rapport »: by an ARS agent of the region, « En évaluation », every question consolidated.
    A new version is generated and sent; the state goes « Rapport envoyé » then « Période contradictoire »
    (round 1, until `deadline` or else the campaign's `contradictory_deadline`, in the future); the
    signataires are e-mailed. One transaction: a refusal (ReportRefused) changes nothing."""
    locked = _lock(self_evaluation.pk)
    _check_reporting(locked, acting_user)
    if locked.state != SelfEvaluationState.EN_EVALUATION:
        raise ReportRefused(
            f"Le rapport ne s'envoie qu'à l'état « En évaluation » (état actuel : « {locked.get_state_display()} »)."
        )
    _check_complete(locked)
    deadline = deadline or locked.campaign.contradictory_deadline
    try:
        rounds.check_deadline(deadline)
    except rounds.RoundRefused as refusal:
        raise ReportRefused(str(refusal), field="deadline") from refusal
    moved = services.transition(
        locked, to_state=SelfEvaluationState.RAPPORT_ENVOYE, acting_user=acting_user, context=context
    )
    locked.state = moved.state
    rounds.open_round(locked, deadline=deadline, acting_user=acting_user, context=context)
    return issue_report(locked, acting_user=acting_user, final=False, context=context)


def final_report_refusal(self_evaluation: SelfEvaluation, *, today: datetime.date | None = None) -> str | None:
    """Why the final report cannot be sent now (the state and the période contradictoire), or None.

    Allowed during the période contradictoire when every observation sent in the current round has its
    answer, or when the round's deadline has passed and no observation was sent."""
    today = today or timezone.localdate()
    if self_evaluation.state != SelfEvaluationState.CONTRADICTOIRE:
        return (
            "Le rapport définitif ne s'envoie que pendant la période contradictoire "
            f"(état actuel : « {self_evaluation.get_state_display()} »)."
        )
    current = ContradictoryRound.objects.filter(
        self_evaluation=self_evaluation, number=self_evaluation.contradictory_round
    ).first()
    if current is None:  # pragma: no cover - every round is opened by evaluation.rounds.open_round
        return "La période contradictoire en cours est introuvable."
    sent = current.observations.filter(status=ObservationStatus.ENVOYEE)
    waiting = sent.filter(answered_at__isnull=True).count()
    if waiting:
        plural = "s" if waiting > 1 else ""
        return (
            f"{waiting} observation{plural} de l'établissement attend{'ent' if waiting > 1 else ''} encore une "
            "réponse : répondez-y avant d'envoyer le rapport définitif."
        )
    if not sent.exists() and today <= current.deadline:
        return (
            f"La période contradictoire court jusqu'au {current.deadline:%d/%m/%Y} et l'établissement n'a pas "
            "envoyé d'observations : le rapport définitif ne peut être envoyé qu'après cette date, ou une fois "
            "ses observations reçues et répondues."
        )
    return None


@transaction.atomic
def send_final_report(
    self_evaluation: SelfEvaluation, *, acting_user, context: RequestContext | None = None
) -> Report:
    """« Envoyer le rapport définitif »: by an ARS agent of the region, during the période contradictoire
    (see `final_report_refusal`). A final version is generated and sent, the state becomes « Définitive », the
    signataires are e-mailed. A refusal (ReportRefused) changes nothing."""
    locked = _lock(self_evaluation.pk)
    _check_reporting(locked, acting_user)
    refusal = final_report_refusal(locked)
    if refusal:
        raise ReportRefused(refusal)
    moved = services.transition(
        locked, to_state=SelfEvaluationState.DEFINITIVE, acting_user=acting_user, context=context
    )
    locked.state = moved.state
    return issue_report(locked, acting_user=acting_user, final=True, context=context)


def record_download(report: Report, *, user, context: RequestContext | None = None) -> bool:
    """Record the read receipt of `report` (its self-evaluation's contract and EJ loaded) if `user` is a
    member of the EJ and nobody read it before: True when this download is the first. Agency staff never
    count. A conditional UPDATE, so that two first downloads at once record one."""
    if privileges.role_of(user) is not None or role_in_ej(user, report.self_evaluation.contract.ej) is None:
        return False
    with transaction.atomic():
        now = timezone.now()
        first = Report.objects.filter(pk=report.pk, read_at__isnull=True).update(read_at=now, read_by=user)
        if first:
            report.read_at, report.read_by = now, user
            record_event(
                EventType.REPORT_READ,
                actor=user,
                ej=report.self_evaluation.contract.ej,
                target=report.self_evaluation,
                data={"version": report.version, "final": report.final},
                context=context,
            )
    return bool(first)


# The reports are kept in the documents storage: `check_documents` checks them with the documents
# (documents/hooks.py `stored_files`, registered in evaluation/apps.py).
REPORT_FILES = Kind("rapport d'évaluation", "reports", Report, "file", "file_sha256")


def stored_reports() -> Kind:
    return REPORT_FILES
