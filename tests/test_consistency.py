"""Project hygiene that reviews tend to miss."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models, transaction


OUR_APPS = ["accounts", "contracts", "evaluation", "documents", "audit"]
OUR_MODELS = [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()]


def _is_lowercase_label(label: str) -> bool:
    first_word = str(label).split()[0]
    return first_word[0].islower() or first_word.isupper() or first_word[:1] == "«"


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m._meta.label)
def test_verbose_names_are_french_lowercase(model):
    """Django capitalises labels itself; ours start in lowercase (acronyms excepted)."""
    assert _is_lowercase_label(model._meta.verbose_name)
    assert _is_lowercase_label(model._meta.verbose_name_plural)
    for field in model._meta.get_fields():
        if hasattr(field, "verbose_name") and not field.auto_created:
            assert _is_lowercase_label(field.verbose_name), f"{model._meta.label}.{field.name}"


TRAIL_MODELS = [
    "audit.AuditEvent",
    "evaluation.Transition",
    "evaluation.IndicatorValueHistory",
    "evaluation.IndicatorValue",
    "documents.Document",
    "evaluation.Attachment",
]


@pytest.mark.parametrize("label", TRAIL_MODELS)
def test_history_keeps_its_authors(label):
    """Deleting a user must never delete or orphan what they did: FKs to users are PROTECT (or SET_NULL
    for a mere assignment)."""
    model = apps.get_model(label)
    for field in model._meta.get_fields():
        if isinstance(field, models.ForeignKey) and field.related_model._meta.label == settings.AUTH_USER_MODEL:
            allowed = (models.PROTECT,) if field.name != "assigned_to" else (models.SET_NULL,)
            assert field.remote_field.on_delete in allowed, f"{label}.{field.name}"


def test_no_model_form_takes_all_fields():
    """No mass assignment: every ModelForm lists its fields explicitly."""
    offenders = []
    for path in Path(settings.BASE_DIR).glob("[!.]*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(target, ast.Name) and target.id in {"fields", "exclude"} for target in node.targets)
                and isinstance(node.value, ast.Constant)
                and node.value.value == "__all__"
            ):
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def test_no_csrf_exemption_and_no_unescaped_output():
    offenders = []
    for path in Path(settings.BASE_DIR).glob("[!.]*/**/*"):
        if ".venv" in path.parts or ".tools" in path.parts or path.suffix not in {".py", ".html", ".txt"}:
            continue
        if "tests" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        # Plain-text e-mails are not HTML: escaping them would print « l&#x27;adresse ».
        needles = ("csrf_exempt", "mark_safe(", "|safe") + (("autoescape off",) if path.suffix != ".txt" else ())
        for needle in needles:
            if needle in text:
                offenders.append(f"{path}: {needle}")
    assert offenders == []


def test_a_lock_that_does_not_name_its_table_fails_the_suite():
    """The harness refuses select_for_update() + select_related() without of= (tests/conftest.py)."""
    from evaluation.models import SelfEvaluation

    with pytest.raises(AssertionError, match="must name what it locks"), transaction.atomic():
        list(SelfEvaluation.objects.select_for_update().select_related("contract"))
