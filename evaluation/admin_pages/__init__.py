"""The evaluators' pages, inside the admin (its look, its login, TOTP, the privilege table, region scoping).

Each module gives the URLs of one part of the work, under « Évaluations » (evaluation.admin.EvaluationAdmin):
- `evaluate`: the list's « Évaluer », each body's decisions question by question;
- `consolidate`: the ARS's consolidated decisions, the intéressement, the reports;
- `contradictory`: the observations of the période contradictoire and their answers;
and, for national operations: `dashboard` (a campaign's figures, under « Campagnes ») and `referential_import`
(« Importer un référentiel », under « Référentiels »).
"""

from ecars.admin import admin_page


def page_view(model_admin, function, *decorators):
    """`function(model_admin, request, object_id, **kwargs)` as an admin page (`ecars.admin.admin_page`)."""
    return admin_page(model_admin, function, *decorators)


def urls(model_admin) -> list:
    from evaluation.admin_pages import consolidate, contradictory, evaluate

    return [*evaluate.urls(model_admin), *consolidate.urls(model_admin), *contradictory.urls(model_admin)]
