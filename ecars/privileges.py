"""What each staff role may do: the one table of powers, read by the admin, the permission backend and
the portal's services (SECURITY.md C5, C6). README.md « Rôles et droits des agents » shows it.

A power is a verb on a model, named by its label (`app_label.modelname`):
- `view`, `add`, `change`, `delete`: the admin's pages of that model;
- any other verb is an action, in the admin (an admin action declares it in `permissions=[…]`) or on
  the portal: `invite` (send an invitation or a temporary password), `reopen` (reopen a closed
  self-evaluation), `decide` (grant or refuse an extension), `upload` (add a contract document), `open`
  (open a contract's self-evaluation in its current campaign), `import` (a FINESS extract, a referential),
  `dashboard` (a campaign's figures), `export` (a campaign's answers and decisions).

Establishment users have no role: they reach their EJ through their memberships, never the admin.
Every power of an agent holds in their own region only (`ecars.admin.scope_to_region`); the
object-level limits written under the table are enforced by the admins and services named there.
"""

from django.db import models


class StaffRole(models.TextChoices):
    NATIONAL_ADMIN = "national_admin", "administrateur national"
    ARS_AGENT = "ars", "agent ARS"
    AM_EVALUATOR = "am", "évaluateur Assurance Maladie"
    OMEDIT_EVALUATOR = "omedit", "évaluateur OMEDIT"


NATIONAL = StaffRole.NATIONAL_ADMIN
ARS = StaffRole.ARS_AGENT
AM = StaffRole.AM_EVALUATOR
OMEDIT = StaffRole.OMEDIT_EVALUATOR
EVALUATORS = (AM, OMEDIT)

PAGE_VERBS = ("view", "add", "change", "delete")

# model label -> role -> verbs. A role absent from a row has no power on that model.
PRIVILEGES: dict[str, dict[StaffRole, set[str]]] = {
    # Accounts. Agents manage establishment accounts whose every membership is in their region, and
    # never set a password: they send an invitation or a temporary password (`invite`). Staff accounts
    # are managed by national administrators only (accounts.admin.UserAdmin).
    "accounts.user": {NATIONAL: {"view", "add", "change", "invite"}, ARS: {"view", "add", "change", "invite"}},
    "accounts.invitation": {NATIONAL: {"view"}, ARS: {"view"}},
    # The national login rule (« renouvellement obligatoire sans connexion depuis le … »).
    "accounts.loginpolicy": {NATIONAL: {"view", "add", "change"}, ARS: {"view"}},
    "usersessions.usersession": {NATIONAL: {"view", "delete"}},
    "account.emailaddress": {NATIONAL: {"view"}},
    # Deleting a lost authenticator lets its owner set up a new one at the next login.
    "mfa.authenticator": {NATIONAL: {"view", "delete"}},
    "django_tasks_database.dbtaskresult": {NATIONAL: {"view"}},
    # The site's DSFR header, footer and social links.
    "dsfr.dsfrconfig": {NATIONAL: {"view", "add", "change"}},
    "dsfr.dsfrsocialmedia": {NATIONAL: {"view", "add", "change", "delete"}},
    # Reference data of the region.
    "contracts.region": {NATIONAL: {"view", "add", "change"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    # `import`: the FINESS extract, from the admin (contracts.finess_import), national: it spans every region.
    "contracts.entitejuridique": {
        NATIONAL: {"view", "add", "change", "import"},
        ARS: {"view", "add", "change"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    "contracts.etablissement": {
        NATIONAL: {"view", "add", "change"},
        ARS: {"view", "add", "change"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    "contracts.identificationdata": {
        NATIONAL: {"view", "add", "change"},
        ARS: {"view", "add", "change"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    # Memberships: the admin's pages, and « Membres de l'EJ » on the portal (contracts.services).
    "contracts.membership": {NATIONAL: {"view", "add", "change", "delete"}, ARS: {"view", "add", "change", "delete"}},
    "contracts.contracttype": {NATIONAL: {"view", "add", "change"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    # `open`: « Ouvrir l'auto-évaluation » of a contract in its current campaign (evaluation.admin).
    "contracts.contract": {
        NATIONAL: {"view", "add", "change", "open"},
        ARS: {"view", "add", "change", "open"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    "contracts.administrativecontact": {
        NATIONAL: {"view", "add", "change", "delete"},
        ARS: {"view", "add", "change", "delete"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    # Referentials are national; an ARS agent adds and changes the regional nodes of their region only,
    # and nobody changes the meaning of a question that has answers (evaluation.admin.NodeAdmin).
    # `import`: a whole referential from an XLSX or CSV file (evaluation.referential_import).
    "evaluation.referential": {
        NATIONAL: {"view", "add", "change", "import"},
        ARS: {"view"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    "evaluation.node": {
        NATIONAL: {"view", "add", "change"},
        ARS: {"view", "add", "change"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    # An ARS agent changes the campaigns of their region alone (evaluation.admin.CampaignAdmin); `dashboard`:
    # the campaign's figures, `export`: every answer and decision, each of the agent's region only.
    "evaluation.campaign": {
        NATIONAL: {"view", "add", "change", "dashboard", "export"},
        ARS: {"view", "add", "change", "dashboard", "export"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    # Self-evaluations, extension requests, values, logs and documents are written by services only.
    "evaluation.selfevaluation": {
        NATIONAL: {"view", "reopen"},
        ARS: {"view", "reopen"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    "evaluation.extensionrequest": {
        NATIONAL: {"view", "decide"},
        ARS: {"view", "decide"},
        AM: {"view"},
        OMEDIT: {"view"},
    },
    # « Évaluations »: each body decides the questions the referential gives it; the ARS consolidates them,
    # enters the intéressement, sends the reports and answers the observations (evaluation.perms).
    "evaluation.evaluation": {
        NATIONAL: {"view", "consolidate", "report"},
        ARS: {"view", "decide", "consolidate", "report"},
        AM: {"view", "decide"},
        OMEDIT: {"view", "decide"},
    },
    # The evaluation's records, written by the services of « Évaluations »: private notes included, for
    # agency staff only (never an establishment page).
    "evaluation.decision": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.consolidation": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.report": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.contradictoryround": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.observation": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.observationdocument": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.transition": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    # The calendar's e-mails (open_campaign, send_reminders, close_overdue): who was told what.
    "evaluation.notice": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.indicatorvalue": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.indicatorvaluehistory": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.closurereceipt": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    "evaluation.attachment": {NATIONAL: {"view"}, ARS: {"view"}, AM: {"view"}, OMEDIT: {"view"}},
    # « Ajouter document » on the contract page (the ARS's documents); establishments add theirs to questions.
    "documents.document": {NATIONAL: {"view", "upload"}, ARS: {"view", "upload"}, AM: {"view"}, OMEDIT: {"view"}},
    "audit.auditevent": {NATIONAL: {"view"}, ARS: {"view"}},
}


def role_of(user) -> StaffRole | None:
    """The staff role of `user` (see `accounts.models.User.staff_role`), None for everybody else."""
    return getattr(user, "staff_role", None)


def verbs(user, model_label: str) -> frozenset[str]:
    """What `user` may do on the model `model_label` (`app_label.modelname`, lowercase)."""
    role = role_of(user)
    if role is None:
        return frozenset()
    return frozenset(PRIVILEGES.get(model_label, {}).get(role, ()))


def allows(user, model_label: str, verb: str) -> bool:
    return verb in verbs(user, model_label)


def permission_names(role: StaffRole) -> set[str]:
    """The table as Django permission names (`app_label.verb_modelname`), for `user.has_perm`."""
    names = set()
    for model_label, by_role in PRIVILEGES.items():
        app_label, model_name = model_label.split(".")
        names.update(f"{app_label}.{verb}_{model_name}" for verb in by_role.get(role, ()))
    return names
