"""The indicator tree of a self-evaluation, with the manual's dots and fill percentages.

Built from two queries (the referential's nodes, the self-evaluation's values), whatever the
size of the tree, and computed in Python.

- dots: « grise » this user cannot edit the question now (`evaluation.perms.Abilities.edit`); « rouge » to
  fill, not filled; « verte » to fill, filled (MANUAL.md §3);
- « Pourcentage de remplissage »: filled required establishment questions ÷ all of them, rounded
  down, so that 100 % means nothing is missing (DESIGN.md §4).
"""

from collections import OrderedDict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from contracts.models import Etablissement
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


class ReferentialNodes(tuple):
    """The nodes a contract of one region answers, in tree order, each node's `parent` among them, and
    `by_code`: {code: node}."""

    by_code: dict[str, Node]


# The referentials' nodes read lately by this process: {(referential, tree version, region): ReferentialNodes}.
# A referential changes only when an agent edits one of its nodes, which bumps its tree version (Node.save):
# every process then reads the new tree at its next page, and the old entry ages out.
_NODES: OrderedDict[tuple[int, int, int | None], ReferentialNodes] = OrderedDict()
NODES_CACHED = 64


def referential_nodes(self_evaluation: SelfEvaluation) -> ReferentialNodes:
    """The nodes a contract of the self-evaluation's region answers, in tree order: read once per process and
    per tree version, then shared by every page. They are the same objects for every caller: read them, never
    change them."""
    referential = self_evaluation.campaign.referential  # loaded with the self-evaluation by the pages
    region_id = self_evaluation.contract.ej.region_id
    key = (referential.pk, referential.tree_version, region_id)
    nodes = _NODES.get(key)
    if nodes is None:
        nodes = ReferentialNodes(
            Node.objects.filter(referential=referential).for_region(region_id).order_by("position", "pk")
        )
        by_pk = {node.pk: node for node in nodes}
        for node in nodes:  # node.parent without a query
            Node.parent.field.set_cached_value(node, by_pk.get(node.parent_id))
        nodes.by_code = {node.code: node for node in nodes}
        _NODES[key] = nodes
        while len(_NODES) > NODES_CACHED:
            _NODES.popitem(last=False)
    return nodes


def build_tree(
    self_evaluation: SelfEvaluation, *, can: Abilities | None = None, assigned_to=None, light: bool = False
) -> Tree:
    """The whole tree, its dots those of a user of abilities `can` (None: a reader, every dot grey); with
    `assigned_to`, only the questions confided to that user (« Mes questions »), the percentages staying
    those of the whole self-evaluation. With `light`, the questions' values are `TreeValue` rows (what the
    tree shows), not model instances: what the establishment's pages use."""
    can = can or Abilities()
    nodes = referential_nodes(self_evaluation)
    values_by_node: dict[int, list] = {}
    for value in _light_values(self_evaluation) if light else _values(self_evaluation):
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


class TreeValue:
    """The columns of an answer the tree and its pages show, read as a light row: building a model instance
    per question costs more than the rest of a 300-question tree page (bench/tree_and_save.py)."""

    __slots__ = (
        "pk",
        "indicator_id",
        "etablissement_id",
        "assigned_to_id",
        "value",
        "target",
        "not_applicable",
        "etablissement",
        "assigned_to",
        "self_evaluation",
    )

    def __init__(self, row, etablissements, users, self_evaluation):
        (
            self.pk,
            self.indicator_id,
            self.etablissement_id,
            self.assigned_to_id,
            self.value,
            self.target,
            self.not_applicable,
        ) = row
        self.etablissement = etablissements.get(self.etablissement_id)
        self.assigned_to = users.get(self.assigned_to_id)
        self.self_evaluation = self_evaluation

    is_filled = IndicatorValue.is_filled


def _values(self_evaluation):
    values = (
        IndicatorValue.objects.filter(self_evaluation=self_evaluation)
        .select_related("etablissement", "assigned_to")
        .order_by("etablissement__finess")
    )
    for value in values:
        value.self_evaluation = self_evaluation  # no query to reach it again
        yield value


def _light_values(self_evaluation):
    rows = list(
        IndicatorValue.objects.filter(self_evaluation=self_evaluation)
        .order_by("etablissement__finess")
        .values_list(*TreeValue.__slots__[:7])
    )
    # The ET of ET-level questions, and the colleagues questions are confided to: a few rows, when any.
    etablissement_ids = {row[2] for row in rows} - {None}
    user_ids = {row[3] for row in rows} - {None}
    etablissements = Etablissement.objects.in_bulk(etablissement_ids) if etablissement_ids else {}
    users = get_user_model().objects.in_bulk(user_ids) if user_ids else {}
    return [TreeValue(row, etablissements, users, self_evaluation) for row in rows]


def _only_assigned(branches: list[Branch], user) -> list[Branch]:
    """The branches holding questions confided to `user`, with only those questions."""
    kept = []
    for branch in branches:
        branch.questions = [q for q in branch.questions if q.value.assigned_to_id == user.pk]
        branch.children = _only_assigned(branch.children, user)
        if branch.questions or branch.children:
            kept.append(branch)
    return kept
