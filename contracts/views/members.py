from allauth.core import ratelimit
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from audit.enums import EventType
from audit.security import record_bounded_event
from contracts import services
from contracts.enums import MembershipRole
from contracts.forms import InviteMemberForm, MemberRoleForm, RemoveMemberForm
from contracts.models import EntiteJuridique, Membership
from ecars.lib.http import request_context
from ecars.lib.logs import log_throttled


def _ej_managed_by(request, ej) -> EntiteJuridique:
    """The EJ of public id `ej` if the user is one of its member administrators; 404 otherwise, members included."""
    administered = Membership.objects.filter(user=request.user, is_admin=True).values("ej_id")
    return get_object_or_404(EntiteJuridique.objects.for_user(request.user).filter(pk__in=administered), public_id=ej)


def _members_page(ej):
    return redirect("contracts:members", ej=ej.public_id)


@require_http_methods(["GET", "POST"])
def members(request, ej):
    """« Membres de l'EJ »: the members and their roles, and « Inviter un collègue », for member administrators."""
    ej = _ej_managed_by(request, ej)
    form = InviteMemberForm(data=request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if not _may_invite(request, ej):
            # Nothing created, nothing sent; the typed address stays in the form.
            messages.error(request, TOO_MANY_INVITATIONS)
            status = 429
        else:
            try:
                membership = services.invite_member(
                    ej,
                    form.cleaned_data["email"],
                    form.cleaned_data["role"],
                    acting_user=request.user,
                    context=request_context(request),
                )
            except services.MemberError as error:
                form.add_error("email", str(error))
            else:
                messages.success(
                    request,
                    f"{membership.user.email} est maintenant membre de l'EJ ({membership.get_role_display()}) "
                    "et en a été informé par courriel.",
                )
                return _members_page(ej)
    memberships = ej.memberships.select_related("user").order_by("user__last_name", "user__first_name", "user__email")
    context = {"ej": ej, "form": form, "memberships": memberships, "roles": MembershipRole.choices}
    return render(request, "contracts/members.html", context, status=status)


TOO_MANY_INVITATIONS = (
    "Trop d'invitations ont été envoyées depuis cette entité juridique en peu de temps : aucune invitation "
    "n'a été envoyée. Réessayez plus tard ; en cas d'urgence, contactez votre ARS."
)


def _may_invite(request, ej) -> bool:
    """Whether another invitation is allowed: each one writes to an outside address in the portal's name,
    so they are limited per member administrator and per EJ (ACCOUNT_RATE_LIMITS["invite_member"]).
    Refused invitations count too: they would otherwise let anyone probe addresses without limit."""
    if ratelimit.consume(request, action="invite_member", user=request.user, key=f"ej:{ej.public_id}"):
        return True
    # Audited like every throttled request: one row per client address and minute, the rest counted.
    context = request_context(request)
    log_throttled("invite_member", ip=context.ip_address, user=request.user)
    record_bounded_event(
        EventType.LOGIN_THROTTLED,
        key=(context.ip_address, "invite_member"),
        actor=request.user,
        ej=ej,
        context=context,
        data={"action": "invite_member", "email": request.POST.get("email", "")[:254]},
    )
    return False


@require_POST
def change_member_role(request, ej):
    """Change a member's role; the member is named by their account's public identifier, within the EJ."""
    ej = _ej_managed_by(request, ej)
    form = MemberRoleForm(data=request.POST)
    if not form.is_valid():
        messages.error(request, "Choisissez un rôle : lecteur, contributeur ou signataire.")
        return _members_page(ej)
    membership = get_object_or_404(ej.memberships.select_related("user"), user__public_id=form.cleaned_data["member"])
    try:
        membership = services.change_member_role(
            membership, form.cleaned_data["role"], acting_user=request.user, context=request_context(request)
        )
    except services.MemberError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Rôle de {membership.user.email} : {membership.get_role_display()}.")
    return _members_page(ej)


@require_POST
def remove_member(request, ej):
    """Remove a member: their access to the EJ ends at once."""
    ej = _ej_managed_by(request, ej)
    form = RemoveMemberForm(data=request.POST)
    if not form.is_valid():
        raise Http404("Aucun membre ne correspond.")
    membership = get_object_or_404(ej.memberships.select_related("user"), user__public_id=form.cleaned_data["member"])
    try:
        services.remove_member(membership, acting_user=request.user, context=request_context(request))
    except services.MemberError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.email} n'est plus membre de l'EJ.")
    return _members_page(ej)
