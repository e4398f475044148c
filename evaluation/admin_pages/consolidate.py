"""Pages of « Évaluations » (see evaluation/admin_pages/__init__.py)."""


def urls(model_admin) -> list:
    return []
