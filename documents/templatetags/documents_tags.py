from django import template

from documents.validation import size_in_mo


register = template.Library()


@register.filter
def mo(size):
    """A document's size in Mo, as every page shows it (« 1,2 Mo »): the unit of the « 20 Mo maximum » rule."""
    return "" if size is None else size_in_mo(int(size))
