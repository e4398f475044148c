"""How a stored value reads on a page, in a history or in a workbook: one rule for every app."""

EMPTY = "—"


def show(value) -> str:
    """« — » when nothing is stored, « Oui »/« Non » for a yes/no, the text otherwise."""
    if value is None or value == "":
        return EMPTY
    if value is True:
        return "Oui"
    if value is False:
        return "Non"
    return str(value)
