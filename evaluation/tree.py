"""The indicator tree of a self-evaluation, with the manual's dots and fill percentages.

Built from two queries (the referential's nodes, the self-evaluation's values), whatever the
size of the tree, and computed in Python.

- dots: « grise » this user cannot edit the question now (`evaluation.perms.Abilities.edit`); « rouge » to
  fill, not filled; « verte » to fill, filled (MANUAL.md §3);
- « Pourcentage de remplissage »: filled required establishment questions ÷ all of them, rounded
  down, so that 100 % means nothing is missing (DESIGN.md §4).
"""

from dataclasses import dataclass, field

from evaluation import values
from evaluation.display import question_label, question_url, questions_prefix
from evaluation.models import IndicatorValue, Node, SelfEvaluation
from evaluation.perms import Abilities


GREY, RED, GREEN = "grise", "rouge", "verte"


@dataclass
class Question:
    value: IndicatorValue
    node: Node
    counts: bool  # a required question the establishment must fill
    dot: str

    @property
    def label(self) -> str:
        return question_label(self.node, self.value.etablissement)

    @property
    def anchor(self) -> str:
        suffix = f"-{self.value.etablissement.finess}" if self.value.etablissement else ""
        return f"q-{self.node.code}{suffix}".replace(".", "-")

    url_prefix: str = ""  # the questions' common URL up to the code (one reverse() per tree, not per question)

    @property
    def url(self) -> str:
        """The question's page (the form under the tree)."""
        return question_url(self.value, indicator=self.node, prefix=self.url_prefix)

    @property
    def target_met(self) -> bool | None:
        return values.target_met(
            self.node.value_type, self.value.value, self.value.target, not_applicable=self.value.not_applicable
        )

    @property
    def target_label(self) -> str:
        return values.target_label(self.target_met)

    @property
    def display(self) -> str:
        return values.display(self.node.value_type, self.value.value)


@dataclass
class Branch:
    node: Node
    children: list["Branch"] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    filled: int = 0
    total: int = 0

    @property
    def percent(self) -> int:
        return percent(self.filled, self.total)


@dataclass
class Tree:
    self_evaluation: SelfEvaluation
    roots: list[Branch]
    questions: list[Question]  # in tree order
    filled: int
    total: int

    @property
    def percent(self) -> int:
        return percent(self.filled, self.total)

    @property
    def missing(self) -> list[Question]:
        """The red dots: what still prevents « Clore la saisie »."""
        return [question for question in self.questions if question.counts and not question.value.is_filled]

    def rows(self):
        """The tree flattened for one template loop: ("open", branch), ("question", q), ("close", None).

        A recursive template include per branch and per question costs more than everything else on
        a 300-question page.
        """

        def walk(branch):
            yield "open", branch
            for question in branch.questions:
                yield "question", question
            for child in branch.children:
                yield from walk(child)
            yield "close", None

        for root in self.roots:
            yield from walk(root)

    def next_to_fill(self, after: Question | None = None) -> Question | None:
        """The next red question after `after` (or the first one), wrapping around."""
        missing = self.missing
        if not missing:
            return None
        if after is not None and after in self.questions:
            position = self.questions.index(after)
            for question in self.questions[position + 1 :] + self.questions[:position]:
                if question in missing:
                    return question
        return missing[0]


def percent(filled: int, total: int) -> int:
    """Rounded down: 19 of 20 is 95 %, and 100 % only when nothing is missing."""
    return 100 if total == 0 else filled * 100 // total


def build_tree(self_evaluation: SelfEvaluation, *, can: Abilities | None = None, assigned_to=None) -> Tree:
    """The whole tree, its dots those of a user of abilities `can` (None: a reader, every dot grey); with
    `assigned_to`, only the questions confided to that user (« Mes questions »), the percentages staying
    those of the whole self-evaluation."""
    can = can or Abilities()
    nodes = list(
        Node.objects.filter(referential_id=self_evaluation.campaign.referential_id)
        .for_region(self_evaluation.contract.ej.region_id)
        .order_by("position", "pk")
    )
    values_by_node: dict[int, list[IndicatorValue]] = {}
    for value in (
        IndicatorValue.objects.filter(self_evaluation=self_evaluation)
        .select_related("etablissement", "assigned_to")
        .order_by("etablissement__finess")
    ):
        value.self_evaluation = self_evaluation  # no query to reach it again
        values_by_node.setdefault(value.indicator_id, []).append(value)

    url_prefix = questions_prefix(self_evaluation)
    # Objectives and sub-objectives are branches; a question sits in its parent's branch. Branches
    # are made first, so that the order of positions never has to follow the depth.
    branches = {node.pk: Branch(node=node) for node in nodes if not node.is_indicator or node.parent_id is None}
    roots: list[Branch] = []
    for node in nodes:
        parent = branches.get(node.parent_id)
        if node.pk in branches:
            (parent.children if parent else roots).append(branches[node.pk])
        branch = branches.get(node.pk) or parent
        for value in values_by_node.get(node.pk, []):
            counts = node.is_filled_by_establishment and node.required
            dot = GREY if not can.edit(node) else (GREEN if value.is_filled else RED)
            branch.questions.append(Question(value=value, node=node, counts=counts, dot=dot, url_prefix=url_prefix))

    ordered: list[Question] = []

    def walk(branch: Branch) -> tuple[int, int]:
        ordered.extend(branch.questions)
        filled = sum(1 for q in branch.questions if q.counts and q.value.is_filled)
        total = sum(1 for q in branch.questions if q.counts)
        for child in branch.children:
            child_filled, child_total = walk(child)
            filled += child_filled
            total += child_total
        branch.filled, branch.total = filled, total
        return filled, total

    filled = total = 0
    for root in roots:
        root_filled, root_total = walk(root)
        filled += root_filled
        total += root_total
    if assigned_to is not None:
        roots = _only_assigned(roots, assigned_to)
    return Tree(self_evaluation=self_evaluation, roots=roots, questions=ordered, filled=filled, total=total)


def _only_assigned(branches: list[Branch], user) -> list[Branch]:
    """The branches holding questions confided to `user`, with only those questions."""
    kept = []
    for branch in branches:
        branch.questions = [q for q in branch.questions if q.value.assigned_to_id == user.pk]
        branch.children = _only_assigned(branch.children, user)
        if branch.questions or branch.children:
            kept.append(branch)
    return kept
