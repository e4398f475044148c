from django import template

from accounts.models import LoginPolicy


register = template.Library()


@register.simple_tag
def renewal_cutoff():
    """The date before which a silent account must renew its password (« Sans connexion depuis le … »)."""
    return LoginPolicy.current().renewal_cutoff
