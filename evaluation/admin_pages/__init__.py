"""The evaluators' pages, inside the admin (its look, its login, TOTP, the privilege table, region scoping).

Each module gives the URLs of one part of the work, under « Évaluations » (evaluation.admin.EvaluationAdmin):
- `evaluate`: the list's « Évaluer », each body's decisions question by question;
- `consolidate`: the ARS's consolidated decisions, the intéressement, the reports;
- `contradictory`: the observations of the période contradictoire and their answers.
"""

from evaluation.admin_pages import consolidate, contradictory, evaluate


def urls(model_admin) -> list:
    return [*evaluate.urls(model_admin), *consolidate.urls(model_admin), *contradictory.urls(model_admin)]
