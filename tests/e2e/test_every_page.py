"""Every page, as its users reach it (issue 15): a browser follows every link of the demo world (tests/e2e/walk.py),
as an anonymous visitor and two establishments (one writing, one closed): on each page, at 1,280 and at 320 pixels
wide (a 400 % zoom), zero axe-core violation of any impact, no console error, no sideways scrolling. The agent's
walk: test_every_admin_page.py. A screenshot of every page at both widths is saved in SCREENSHOTS (git-ignored, see
tests/e2e/conftest.py) so that anyone can look at every screen after a run."""

import pytest

from demo.world import CLOSED_USER_EMAIL, DEMO_USER_EMAIL
from tests.e2e.conftest import DEMO_PASSWORD as PASSWORD
from tests.e2e.conftest import log_in
from tests.e2e.walk import Walk, report


@pytest.mark.parametrize("persona", ["anonyme", "etablissement", "etablissement-clos"])
def test_every_page_of_visitors_and_establishments_is_accessible_at_1280_and_320_px(page, walk_world, persona):
    """Each persona its own test, so that the suite's processes share them."""
    if persona == "anonyme":
        walk = Walk(page, persona, limit=40).run(
            "/accounts/login/", "/accounts/password/reset/", "/page-qui-n-existe-pas/", "/plan-du-site/"
        )
    else:
        log_in(page, DEMO_USER_EMAIL if persona == "etablissement" else CLOSED_USER_EMAIL, PASSWORD)
        walk = Walk(page, persona, limit=80).run("/")
    assert walk.problems == [], report(walk)
    assert len(walk.visited) >= (3 if persona == "anonyme" else 10), report(walk)
