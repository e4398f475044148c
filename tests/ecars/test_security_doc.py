"""SECURITY.md cannot drift from the code: its privilege table is the generated one, every file and test it
cites exists, and its table of requirements lists each of the 69 requirements exactly once.

No database query: the table is generated from ecars/privileges.py and the models' names, the rest is read
from the files.
"""

import ast
import re
from pathlib import Path

from django.conf import settings

from tests.ecars.test_privileges import privilege_table_markdown


ROOT = Path(settings.BASE_DIR)
DOCUMENT = ROOT / "SECURITY.md"

# The requirements, by theme: A1–A16, B1–B5, C1–C6, D1–D6, E1–E10, F1–F5, G1–G7, H1–H3, R1–R11 (69 in all).
REQUIREMENTS = [
    f"{theme}{number}"
    for theme, count in (
        ("A", 16),
        ("B", 5),
        ("C", 6),
        ("D", 6),
        ("E", 10),
        ("F", 5),
        ("G", 7),
        ("H", 3),
        ("R", 11),
    )
    for number in range(1, count + 1)
]
STATUSES = {"couvert", "partiel", "écart", "non couvert"}

# A path of the repository in backquotes, optionally followed by ::Class::function or ::function.
CITED = re.compile(r"`((?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]+\.[a-z]+)((?:::[A-Za-z_][A-Za-z0-9_]*)*)`")


def text() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The body of the « ## … » section whose title starts with `title`."""
    parts = re.split(r"^## ", text(), flags=re.MULTILINE)
    matches = [part for part in parts if part.startswith(title)]
    assert len(matches) == 1, f"SECURITY.md: one section « {title} » expected"
    return matches[0]


def requirement_rows() -> list[list[str]]:
    """The rows of the requirements' table (§5): their cells, stripped."""
    rows = []
    for line in section("5.").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"\*\*[A-HR]\d{1,2}\*\*", cells[0]):
            rows.append(cells)
    return rows


def defined_names(path: Path) -> set[str]:
    """`function`, `Class` and `Class::method` for everything defined at the top of a Python file."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            names.update(
                f"{node.name}::{child.name}"
                for child in node.body
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
    return names


def test_security_md_shows_the_generated_privilege_table():
    """« Droits des agents » is generated from ecars/privileges.py, as README.md's is: it cannot drift."""
    expected = privilege_table_markdown()
    assert expected in section("3."), "Update SECURITY.md « 3. Droits des agents » with:\n\n" + expected


def test_every_file_and_test_cited_exists():
    """A test or a module renamed or deleted fails here until SECURITY.md says where the proof went."""
    cited = CITED.findall(text())
    assert len(cited) > 100, "the citations were not found: has the format of SECURITY.md changed?"
    missing = []
    for path, functions in sorted(set(cited)):
        file = ROOT / path
        if not file.is_file():
            missing.append(path)
        elif functions and functions.removeprefix("::") not in defined_names(file):
            missing.append(path + functions)
    assert missing == [], "SECURITY.md cites what does not exist:\n" + "\n".join(missing)


def test_the_cited_tests_are_tests():
    """A `tests/…::name` citation names a test that pytest runs, not a helper."""
    helpers = [
        f"{path}{functions}"
        for path, functions in CITED.findall(text())
        if path.startswith("tests/") and functions and not functions.rsplit("::", 1)[-1].startswith("test")
    ]
    assert helpers == []


def test_each_requirement_is_in_the_table_once_with_a_status():
    rows = requirement_rows()
    ids = [row[0].strip("*") for row in rows]
    missing = sorted(set(REQUIREMENTS) - set(ids))
    extra = sorted({i for i in ids if ids.count(i) > 1 or i not in REQUIREMENTS})
    assert sorted(ids) == sorted(REQUIREMENTS), f"missing: {missing}, extra or repeated: {extra}"
    assert ids == REQUIREMENTS, "the table follows the order A1…R11"
    for row in rows:
        assert len(row) == 4, row
        assert row[2] in STATUSES, row
        if row[2] in {"couvert", "partiel"}:
            cited_tests = [path for path, _ in CITED.findall(row[3]) if path.startswith("tests/")]
            assert cited_tests, f"{row[0]}: « {row[2]} » without a test cited"


def test_the_document_stands_alone():
    """SECURITY.md is read without the research notes it was built from: it never points outside the project."""
    assert "../shared" not in text() and "/work/" not in text()
