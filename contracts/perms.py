"""Who may do what on an EJ: the role of a member, the region of an agent. Every app asks here.

- `role_in_ej`: a member's role (lecteur, contributeur, signataire), None for anybody else;
- `in_region`: an agent working in a region (national administrators work in all);
- `may`: a power of the privilege table (ecars/privileges.py) exercised on an EJ's object: the role
  must hold it, and the agent must work in the EJ's region;
- `can_manage_members`: who manages an EJ's members (its member administrators, and `may`).
Also: who may validate an ET's identification data, and when (the manual's pré-campagne).
"""

import datetime
from dataclasses import dataclass

from django.utils.formats import date_format

from contracts.enums import MembershipRole
from contracts.hooks import PrecampaignWindow
from contracts.models import Membership
from ecars import privileges


def role_in_ej(user, ej) -> str | None:
    """The user's role in the EJ (lecteur, contributeur, signataire), or None (agents are never members)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, ej=ej).values_list("role", flat=True).first()


def in_region(user, region_id) -> bool:
    """Whether `user` is staff working in the region `region_id`: its agents, and national administrators."""
    role = privileges.role_of(user)
    return role is not None and (role == privileges.NATIONAL or user.region_id == region_id)


def may(user, model_label: str, verb: str, *, ej) -> bool:
    """Whether `user` may `verb` (a power of the privilege table) an object of `ej`."""
    return privileges.allows(user, model_label, verb) and in_region(user, ej.region_id)


def can_manage_members(ej, user) -> bool:
    """Member administrators of the EJ, ARS agents of its region and national administrators (the table's
    powers on memberships, ecars/privileges.py) manage its members."""
    if not (user.is_authenticated and user.is_active):
        return False
    if may(user, "contracts.membership", "add", ej=ej):
        return True
    return Membership.objects.filter(ej=ej, user=user, is_admin=True).exists()


NO_CAMPAIGN = "Aucune campagne n'est en cours pour ce contrat : il n'y a pas de données d'identification à valider."
SIGNATAIRE_ONLY = "Seul un signataire de l'établissement peut valider ces données."


@dataclass(frozen=True)
class IdentificationAbilities:
    validate: bool
    reason: str = ""  # why the data are read-only, in French, for the page


def precampaign_closed_reason(window: PrecampaignWindow) -> str:
    if not (window.start and window.end):
        return "La pré-campagne est fermée : aucune date d'ouverture n'est fixée pour cette campagne."
    start = date_format(window.start, "j F Y")
    end = date_format(window.end, "j F Y")
    return f"La pré-campagne est fermée : ouverte du {start} au {end}."


def identification_abilities(
    window: PrecampaignWindow | None, *, role: str | None, today: datetime.date
) -> IdentificationAbilities:
    """A signataire of the EJ validates its ET's data while the pré-campagne of the contract's campaign
    (`window`, from the `precampaign` hook) is open, bounds included; everybody else, agency staff included,
    reads them."""
    if window is None:
        return IdentificationAbilities(validate=False, reason=NO_CAMPAIGN)
    if not window.is_open_on(today):
        return IdentificationAbilities(validate=False, reason=precampaign_closed_reason(window))
    if role != MembershipRole.SIGNATAIRE:
        return IdentificationAbilities(validate=False, reason=SIGNATAIRE_ONLY)
    return IdentificationAbilities(validate=True)
