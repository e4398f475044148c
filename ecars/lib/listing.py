"""Sorting, searching and paging of the portal's tables, from the query string.

`?tri=colonne` or `?tri=-colonne` sorts, `?page=N` pages, `?par_page=20|50|100` sets the page size
(the manual's « 20 ▾ »), `?q=` searches. Unknown values fall back to the defaults.
"""

from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.http import QueryDict


PAGE_SIZES = (20, 50, 100)


@dataclass
class Listing:
    page: Page
    sort: str
    page_size: int
    query: str
    params: QueryDict = field(repr=False)

    def url_with(self, **changes) -> str:
        """The query string of this listing with some parameters changed (for links)."""
        params = self.params.copy()
        for key, value in changes.items():
            params[key] = value
        return "?" + params.urlencode()

    def sort_url(self, column: str) -> str:
        """Clicking a column sorts by it, then reverses."""
        return self.url_with(tri=f"-{column}" if self.sort == column else column, page=1)

    def aria_sort(self, column: str) -> str:
        if self.sort == column:
            return "ascending"
        if self.sort == f"-{column}":
            return "descending"
        return "none"

    @property
    def page_urls(self):
        """(number, url) for the page links around the current page."""
        current, last = self.page.number, self.page.paginator.num_pages
        numbers = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
        return [(number, self.url_with(page=number)) for number in numbers]


def build_listing(request, queryset, *, sorts: dict[str, tuple[str, ...]], default_sort: str, search=None) -> Listing:
    """Sort (whitelisted columns only), search and page `queryset` as the query string asks."""
    params = request.GET.copy()
    query = params.get("q", "").strip()[:100]
    if query and search is not None:
        queryset = search(queryset, query)
    sort = params.get("tri", default_sort)
    if sort.lstrip("-") not in sorts:
        sort = default_sort
    descending = sort.startswith("-")
    order = [f"-{column}" if descending else column for column in sorts[sort.lstrip("-")]]
    try:
        page_size = int(params.get("par_page", PAGE_SIZES[0]))
    except ValueError:
        page_size = PAGE_SIZES[0]
    if page_size not in PAGE_SIZES:
        page_size = PAGE_SIZES[0]
    paginator = Paginator(queryset.order_by(*order, "pk"), page_size)
    page = paginator.get_page(params.get("page"))
    return Listing(page=page, sort=sort, page_size=page_size, query=query, params=params)
