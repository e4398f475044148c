from django import template

from ecars.lib.logs import current_request_id


register = template.Library()


@register.simple_tag
def request_id():
    """The id of the request being answered (its X-Request-ID), for the error pages: read from the logs' context,
    so that a page rendered without any context (the 500 page) has it too, without a query."""
    return current_request_id.get() or ""


@register.filter
def listing_url(listing, page):
    """The listing's query string for another page."""
    return listing.url_with(page=page)


@register.filter
def listing_sort_url(listing, column):
    return listing.sort_url(column)


@register.filter
def listing_aria_sort(listing, column):
    return listing.aria_sort(column)
