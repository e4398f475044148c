from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        """No self-sign-up: establishment accounts are created by ARS staff."""
        return False
