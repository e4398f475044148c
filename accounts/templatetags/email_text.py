"""Free text typed by users, made safe to quote in an e-mail written in the portal's name."""

import unicodedata

from django import template


register = template.Library()


@register.filter
def one_line(value, length=80):
    """`value` on one plain line of at most `length` characters.

    Line breaks (Unicode's too), control and formatting characters (such as the bidirectional overrides
    that reverse how text reads) become spaces and runs of spaces one: a name typed in « Mon compte »
    cannot add lines of its own to a message, nor pose as its next paragraph.
    """
    text = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in str(value))
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
