from django import template


register = template.Library()


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
