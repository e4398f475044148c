"""Every page, as its users reach it (issue 15): a browser follows every link of the demo world (tests/e2e/walk.py),
as an anonymous visitor and two establishments (one writing, one closed): on each page, at 1,280 and at 320 pixels
wide (a 400 % zoom), zero axe-core violation of any impact, no console error, no sideways scrolling. The agent's
walk: test_every_admin_page.py. A screenshot of every page at both widths is saved in SCREENSHOTS (git-ignored, see
tests/e2e/conftest.py) so that anyone can look at every screen after a run."""

from demo.world import CLOSED_USER_EMAIL, DEMO_USER_EMAIL
from tests.e2e.conftest import DEMO_PASSWORD as PASSWORD
from tests.e2e.conftest import log_in
from tests.e2e.walk import Walk, report


def test_every_page_of_visitors_and_establishments_is_accessible_at_1280_and_320_px(page, walk_world):
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
