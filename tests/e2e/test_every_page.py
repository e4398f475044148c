"""Every page, as its users reach it (issue 15): a browser follows every link of the demo world, as an anonymous
visitor, two establishments (one writing, one closed) and an ARS agent (its code page after the password included),
and on each page, at 1,280 and at 320 pixels wide (a 400 % zoom): zero axe-core violation of any impact, no console
error, no sideways scrolling. A screenshot of every page at both widths is saved in SCREENSHOTS (git-ignored, see
tests/e2e/conftest.py) so that anyone can look at every screen after a run.

The walk follows the links of each page, one page per address shape — the same path with other identifiers or
another query is the same page — and skips what is not a page (downloads, logouts, other sites). Then the agent runs
each admin action of each list on its first row, up to the action's own page (a form to confirm, never confirmed).
"""

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import Error as PlaywrightError

from accounts.models import User
from demo.world import ARS_USER_EMAIL, CLOSED_USER_EMAIL, DEMO_USER_EMAIL
from tests.e2e import conftest
from tests.e2e.conftest import log_in, page_problems


PASSWORD = "Demo-e-CARS-2026!"
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

    def __init__(self, page, persona: str, *, limit: int):
        self.page = page
        self.persona = persona
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


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    User.objects.filter(email__in=[DEMO_USER_EMAIL, CLOSED_USER_EMAIL]).update(password_must_change=False)


KNOWN_ADMIN_PROBLEMS = Path(__file__).with_name("known_admin_problems.txt")


def known_form(problem: str) -> str:
    """A problem as KNOWN_ADMIN_PROBLEMS lists it: no server port, identifiers or console details."""
    problem = re.sub(r"http://[^/]+", "", problem)
    problem = _IDENTIFIER.sub("/{id}", problem)
    problem = re.sub(r"défile horizontalement de \d+ px.*", "défile horizontalement", problem)
    return re.sub(r"(erreurs de console).*", r"\1", problem)


def report(*walks: Walk) -> str:
    lines = [f"{walk.persona} : {len(walk.visited)} pages" for walk in walks]
    problems = [problem for walk in walks for problem in walk.problems]
    return "\n".join(lines + [f"{len(problems)} problème(s) :"] + problems)


def test_every_page_of_visitors_and_establishments_is_accessible_at_1280_and_320_px(page, demo):
    anonymous = Walk(page, "anonyme", limit=40).run(
        "/accounts/login/", "/accounts/password/reset/", "/page-qui-n-existe-pas/", "/plan-du-site/"
    )
    log_in(page, DEMO_USER_EMAIL, PASSWORD)
    writing = Walk(page, "etablissement", limit=80).run("/")
    page.context.clear_cookies()
    log_in(page, CLOSED_USER_EMAIL, PASSWORD)
    closed = Walk(page, "etablissement-clos", limit=80).run("/")
    walks = (anonymous, writing, closed)
    assert not any(walk.problems for walk in walks), report(*walks)
    assert len(writing.visited) >= 10, report(*walks)


def test_every_page_an_ars_agent_reaches_is_accessible_at_1280_and_320_px(page, demo):
    agent = Walk(page, "agent-ars", limit=200)
    conftest.log_in_agent(
        page, User.objects.get(email=ARS_USER_EMAIL), PASSWORD, on_code_page=lambda page: agent.check("code")
    )
    agent.run("/admin/")
    agent.run_actions()
    # Issue 15 is under way on the admin: its known problems are listed in KNOWN_ADMIN_PROBLEMS, and a problem not
    # listed fails. Remove a line once its problem is fixed: the list may only shrink.
    found = {known_form(problem) for problem in agent.problems}
    listed = {known_form(line) for line in KNOWN_ADMIN_PROBLEMS.read_text().splitlines() if line and line[0] != "#"}
    assert not found - listed, "Nouveaux problèmes :\n" + "\n".join(sorted(found - listed))
    assert len(agent.visited) >= 20, report(agent)
    assert agent.actions >= 3, report(agent)
