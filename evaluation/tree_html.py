"""The indicator tree as HTML, built in Python.

On a 300-question contract, rendering the tree through template includes cost three times the
whole page budget (DESIGN.md §7: the tree page must be at least as fast as a plain 300-field page).
The markup is the one a template would produce; every text is escaped with html.escape (quotes
included), the same escaping as Django's autoescape.
"""

from html import escape

from django.utils.safestring import SafeString

from evaluation.tree import GREEN, RED, Tree


DOT_LABELS = {RED: "Pastille rouge, à saisir :", GREEN: "Pastille verte, saisie :"}
GREY_LABEL = "Pastille grise, non modifiable :"


def _question(question, current_pk) -> str:
    value = question.value
    current = ' aria-current="page" class="ecars-tree__current"' if value.pk == current_pk else ""
    extra = ""
    if question.target_label:
        tone = "success" if question.target_met else "warning"
        extra += f'<span class="fr-badge fr-badge--sm fr-badge--{tone}">{escape(question.target_label)}</span>'
    if value.assigned_to_id:
        extra += f'<span class="fr-text--xs ecars-tree__assignee">confiée à {escape(str(value.assigned_to))}</span>'
    dot_label = DOT_LABELS.get(question.dot, GREY_LABEL)
    return (
        f'<li class="ecars-tree__question" id="{escape(question.anchor)}">'
        f'<span class="ecars-dot ecars-dot--{question.dot}" aria-hidden="true"></span>'
        f'<a href="{escape(question.url)}"{current}><span class="fr-sr-only">{dot_label}</span> '
        f"{escape(question.label)}</a>{extra}</li>"
    )


def tree_html(tree: Tree, *, current_pk: int | None = None) -> SafeString:
    """The `<li>` items of the tree's branches and questions (inside the EJ's list)."""
    parts = []
    for kind, item in tree.rows():
        if kind == "open":
            parts.append(
                f'<li><details class="ecars-tree__branch" open><summary>{escape(item.node.code)} - '
                f"{escape(item.node.label)} "
                f'<span class="fr-badge fr-badge--sm fr-badge--no-icon ecars-tree__percent">{item.percent} %</span>'
                '</summary><ul class="ecars-tree__list">'
            )
        elif kind == "question":
            parts.append(_question(item, current_pk))
        else:
            parts.append("</ul></details></li>")
    return SafeString("".join(parts))
