"""The names of the files e-CARS makes for a contract (archives, receipts, workbooks), as the browser saves them.

Many contracts share a code, and a name is unique only within its EJ and contract type: a generated file is
named after the EJ's FINESS, the contract's name and the evaluated year, e.g.
« documents-380780080-caqes-test-2025.zip ». Plain ASCII (lowercase, digits, « - » and « . »), so that every
browser and every file system keeps it as it is.
"""

from django.utils.text import slugify


# A name that stays readable in a file dialog; the FINESS and the year are never cut.
_NAME_LENGTH = 60


def _part(text: str) -> str:
    """ASCII, lowercase, « - » between words; the dots of a question code (« 2.1.1.a ») are kept."""
    pieces = (slugify(piece) for piece in str(text).split("."))
    return ".".join(piece for piece in pieces if piece)


def contract_file_name(kind: str, contract, year: int | None, *more: str, extension: str) -> str:
    """« <kind>-<FINESS of the EJ>-<contract's name>-<year>[-<more>…].<extension> » for `contract` (its EJ
    loaded); `year` is the evaluated year (None: left out); `more` narrows it (a question code, an ET)."""
    name = slugify(contract.name)[:_NAME_LENGTH].strip("-") or "contrat"
    parts = [kind, contract.ej.finess, name]
    if year:
        parts.append(str(year))
    parts.extend(part for part in (_part(text) for text in more) if part)
    return "-".join(parts) + "." + extension
