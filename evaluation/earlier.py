"""The contract's earlier years, as a question reads them: read-only, whatever the state of those years.

- `earlier_years(value)`: « Années précédentes » of one question: its target, answer, comment and documents in
  each earlier campaign of the contract, newest first, and which of them is the previous campaign (N-1);
- `previous_comments(self_evaluation)`: « Commentaire évalué N-1 » of every question at once (the workbook).

« The previous campaign » is the contract's self-evaluation of the most recent year before this one
(`previous_self_evaluation`); « the same question » is the same indicator code, for the EJ or for the same
ET. A question the previous campaign did not ask has no N-1, even if an older year asked it.
"""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Subquery

from documents.perms import may_download
from evaluation import values
from evaluation.display import answer_shown
from evaluation.models import Attachment, IndicatorValue, Report, SelfEvaluation


def previous_self_evaluation(self_evaluation) -> Subquery:
    """The pk of the contract's self-evaluation just before `self_evaluation` (NULL if none), as a subquery."""
    earlier = SelfEvaluation.objects.filter(
        contract_id=self_evaluation.contract_id, campaign__year__lt=self_evaluation.campaign.year
    ).latest_first()
    return Subquery(earlier.values("pk")[:1])


@dataclass
class EarlierYear:
    year: int
    target: str
    value: str
    comment: str
    is_previous: bool  # the contract's previous campaign: its comment is « Commentaire évalué N-1 »
    verdict: str = ""  # « Évaluation <année> »: the consolidated decision, once that year's report was sent
    motivation: str = ""
    documents: list = field(default_factory=list)  # [(document, downloadable)], in the order they were added


def earlier_years(value) -> list[EarlierYear]:
    """The question `value` answers, in the contract's earlier campaigns, newest first. Two queries whatever
    the number of years and documents, none when the contract has no earlier year (`has_earlier_years`)."""
    self_evaluation = value.self_evaluation
    if not self_evaluation.has_earlier_years():
        return []
    earlier = (
        IndicatorValue.objects.filter(
            self_evaluation__contract_id=self_evaluation.contract_id,
            self_evaluation__campaign__year__lt=self_evaluation.campaign.year,
            indicator__code=value.indicator.code,
            etablissement_id=value.etablissement_id,
        )
        .annotate(previous_self_evaluation_id=previous_self_evaluation(self_evaluation))
        .annotate(
            reported=Exists(Report.objects.filter(self_evaluation=OuterRef("self_evaluation"), sent_at__isnull=False))
        )
        .select_related("self_evaluation__campaign", "indicator", "consolidation")
        .defer("consolidation__private_note")  # never read: an establishment page
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.filter(withdrawn_at__isnull=True)
                .select_related("document")
                .order_by("attached_at", "pk"),
                to_attr="listed",
            )
        )
        .order_by("-self_evaluation__campaign__year", "-self_evaluation__campaign__self_assessment_start")
    )
    return [
        EarlierYear(
            year=previous.self_evaluation.campaign.year,
            target=values.display(previous.indicator.value_type, previous.target),
            value=answer_shown(previous.indicator.value_type, previous.value, not_applicable=previous.not_applicable),
            comment=previous.comment,
            is_previous=previous.self_evaluation_id == previous.previous_self_evaluation_id,
            **_evaluation_of(previous),
            # Listed only: the documents of an earlier year are never withdrawn (evaluation.attachments.withdraw).
            documents=[(a.document, may_download(a.document)) for a in previous.listed],
        )
        for previous in earlier
    ]


def _evaluation_of(previous) -> dict:
    """The consolidated decision of an earlier year's answer, once that year's report was sent; never a note."""
    consolidation = getattr(previous, "consolidation", None) if previous.reported else None
    if consolidation is None:
        return {}
    return {"verdict": consolidation.get_verdict_display(), "motivation": consolidation.motivation}


def previous_comment(years: list[EarlierYear]) -> str:
    """« Commentaire évalué N-1 » from a question's `earlier_years`: "" when the previous campaign has none."""
    return next((year.comment for year in years if year.is_previous), "")


def previous_comments(self_evaluation) -> dict[tuple[str, int | None], str]:
    """« Commentaire évalué N-1 » of every question of `self_evaluation`, keyed by (indicator code, ET id or
    None): one query for all of them. Questions without a comment in the previous campaign are left out."""
    rows = (
        IndicatorValue.objects.filter(self_evaluation_id=previous_self_evaluation(self_evaluation))
        .exclude(comment="")
        .values_list("indicator__code", "etablissement_id", "comment")
    )
    return {(code, etablissement_id): comment for code, etablissement_id, comment in rows}
