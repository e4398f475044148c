from django import forms

from accounts.models import User
from contracts.enums import MembershipRole


class InviteMemberForm(forms.Form):
    """« Inviter un collègue »: an address and a role."""

    email = forms.EmailField(label="Adresse de messagerie", max_length=254)
    role = forms.ChoiceField(label="Rôle", choices=MembershipRole.choices, initial=MembershipRole.LECTEUR)

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])


class MemberRoleForm(forms.Form):
    """A member (by the public identifier of their account) and their new role."""

    member = forms.UUIDField()
    role = forms.ChoiceField(choices=MembershipRole.choices)


class RemoveMemberForm(forms.Form):
    member = forms.UUIDField()
