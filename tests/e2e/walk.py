"""The walk of every page (issue 15), for test_every_page.py and test_every_admin_page.py: a browser follows every
link from start pages, one page per address shape — the same path with other identifiers or another query is the
same page — and skips what is not a page (downloads, logouts, other sites); on each page, at 1,280 and 320 px, it
records axe-core's violations, sideways scrolling and console errors (tests/e2e/conftest.py's page_problems), and
saves screenshots. Then, for an agent, each admin action of each list on its first row, up to the action's own page
(a form to confirm, never confirmed)."""

import re
import shutil
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import SCREENSHOTS, page_problems


# Not pages: leaving the session, files, and the forms' own targets reached by links in the admin.
SKIPPED = re.compile(
    r"/logout/|/deconnexion|/sessions/terminer/|/telecharger|/download|\.(zip|pdf|csv|xlsx|ods|ico|png|svg)$"
    r"|/recuperer|/export|/documents/[0-9a-f-]{36}/$|/accounts/3rdparty|/admin/r/"
)
_IDENTIFIER = re.compile(r"/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+)(?=/|$)")


def shape(url: str) -> str:
    """The page an address shows, whatever its identifiers and its query (a sort, a filter, a page number of the same
    list)."""
    return _IDENTIFIER.sub("/{id}", urlsplit(url).path)


class Walk:
    """Follows the links from the start pages; records each page's problems instead of stopping at the first."""

    def __init__(self, page, persona: str, *, limit: int, checks=None):
        """`checks(path)`, if given, says which pages to check: a part of the site, checked apart from the rest. The
        walk still goes through the others for their links, so that every part is reached as from the whole."""
        self.page = page
        self.persona = persona
        self.checks = checks
        shutil.rmtree(SCREENSHOTS / persona, ignore_errors=True)  # an earlier run's screenshots of this walk
        self.limit = limit
        self.seen: set[str] = set()
        self.visited: list[str] = []
        self.problems: list[str] = []

    def run(self, *starts: str):
        queue = list(starts)
        while queue and len(self.visited) < self.limit:
            url = queue.pop(0)
            key = shape(url)
            if key in self.seen:
                continue
            self.seen.add(key)
            links = self.visit(url)
            queue.extend(link for link in links if shape(link) not in self.seen)
        assert len(self.visited) < self.limit, f"{self.persona} : plus de {self.limit} pages, limite à revoir"
        return self

    def check(self, name: str):
        """The current page's problems, recorded under `name`."""
        self.visited.append(self.page.url)
        for problem in page_problems(self.page, f"{self.persona}/{len(self.visited):03d}-{name}"):
            self.problems.append(f"{self.persona} {self.page.url} {problem}")
        if self.page.console_errors:
            self.problems.append(f"{self.persona} {self.page.url} : erreurs de console {self.page.console_errors}")
        self.page.console_errors.clear()

    def run_actions(self):
        """Each admin action of each list visited, on its first row, up to its intermediate page (a form to confirm,
        never confirmed); the exports, files, are not pages."""
        self.actions = 0
        lists = [url for url in self.visited if re.search(r"/admin/[a-z_]+/[a-z_]+/$", urlsplit(url).path)]
        for url in lists:
            self.page.goto(url)
            names = self.page.eval_on_selector_all(
                "select[name=action] option", "options => options.map(option => option.value)"
            )
            for name in names:
                if not name or name.startswith("export"):
                    continue
                self.page.goto(url)
                if not self.page.locator("input.action-select").count():
                    break
                self.page.locator("input.action-select").first.check()
                self.page.locator("select[name=action]").select_option(name)
                self.page.locator("button[name=index]").click()
                self.page.wait_for_load_state()
                self.actions += 1
                self.check(f"action-{name}")

    def visit(self, url: str) -> list[str]:
        page = self.page
        page.console_errors.clear()
        try:
            response = page.goto(url)
        except PlaywrightError as error:
            if "Download is starting" in str(error):
                return []
            raise
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            return []
        if self.checks is None or self.checks(urlsplit(page.url).path):
            self.check(re.sub(r"[^a-z0-9]+", "-", shape(url).lower()).strip("-") or "accueil")
        origin = urlsplit(page.url)
        links = page.eval_on_selector_all("a[href]", "elements => elements.map(element => element.href)")
        found = []
        for link in links:
            parts = urlsplit(link)
            if parts.scheme not in ("http", "https") or parts.netloc != origin.netloc or SKIPPED.search(parts.path):
                continue
            found.append(parts._replace(fragment="").geturl())
        return found


def report(*walks: Walk) -> str:
    lines = [f"{walk.persona} : {len(walk.visited)} pages" for walk in walks]
    problems = [problem for walk in walks for problem in walk.problems]
    return "\n".join(lines + [f"{len(problems)} problème(s) :"] + problems)
