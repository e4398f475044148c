"""Permission groups of agency staff, kept in code and applied by `manage.py sync_groups`.

Agency staff (ARS, Assurance Maladie, OMEDIT) manage reference data and follow campaigns in the
admin. Audit trails, transition logs and value histories are read-only for everyone; values,
documents and audit events can never be deleted (the admin also refuses it). Self-evaluations and
extension requests change only through admin actions that call services (reopen, grant, refuse).
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction


AGENCY_STAFF_GROUP = "Agents ARS"

# app_label.model -> actions granted
AGENCY_STAFF_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "accounts.user": ("view", "add", "change"),
    "accounts.invitation": ("view",),
    "accounts.loginpolicy": ("view", "add", "change"),
    "contracts.region": ("view",),
    "contracts.entitejuridique": ("view", "add", "change"),
    "contracts.etablissement": ("view", "add", "change"),
    "contracts.identificationdata": ("view", "add", "change"),
    "contracts.membership": ("view", "add", "change", "delete"),
    "contracts.contracttype": ("view",),
    "contracts.contract": ("view", "add", "change"),
    "contracts.administrativecontact": ("view", "add", "change", "delete"),
    "evaluation.referential": ("view", "add", "change"),
    "evaluation.node": ("view", "add", "change"),
    "evaluation.campaign": ("view", "add", "change"),
    # Self-evaluations and extension requests stay read-only in the admin (they change through
    # evaluation.services and evaluation.extensions); « change » is the right to use the admin actions
    # that call those services: « Rouvrir la saisie », « Accorder » and « Refuser » a prolongation.
    "evaluation.selfevaluation": ("view", "change"),
    "evaluation.extensionrequest": ("view", "change"),
    # View only: values, logs and receipts are written by services, never in the admin.
    "evaluation.transition": ("view",),
    "evaluation.indicatorvalue": ("view",),
    "evaluation.indicatorvaluehistory": ("view",),
    "evaluation.closurereceipt": ("view",),
    "documents.document": ("view",),
    "documents.attachment": ("view",),
    "audit.auditevent": ("view",),
}


@transaction.atomic
def sync_groups() -> Group:
    """Create or update the agency staff group so that it holds exactly the permissions above."""
    group, _ = Group.objects.get_or_create(name=AGENCY_STAFF_GROUP)
    wanted = []
    for model_label, actions in AGENCY_STAFF_PERMISSIONS.items():
        app_label, model = model_label.split(".")
        for action in actions:
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}"))
    group.permissions.set(wanted)
    return group
