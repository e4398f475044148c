"""Every page an ARS agent reaches (issue 15), as test_every_page.py walks the others': every link from the admin's
index, then each admin action of each list up to its own page; its TOTP code page too. At 1,280 and 320 px: zero
axe-core violation of any impact, no console error, no sideways scrolling.

The admin's pages are checked in three parts, each its own test, so that the suite's processes share them: the
contracts' pages, the evaluation's, and all the others (index, accounts, audit, documents, the agent's own pages).
Each part's walk goes through the whole admin for its links, so that every page is reached as from the index."""

import pytest

from accounts.models import User
from demo.world import ARS_USER_EMAIL
from tests.e2e import conftest
from tests.e2e.conftest import DEMO_PASSWORD as PASSWORD
from tests.e2e.walk import Walk, report


SECTIONS = ("/admin/contracts/", "/admin/evaluation/")


@pytest.mark.parametrize("section", [*SECTIONS, None], ids=["contrats", "evaluation", "autres"])
def test_every_page_an_ars_agent_reaches_is_accessible_at_1280_and_320_px(page, walk_world, section):
    agent = User.objects.get(email=ARS_USER_EMAIL)
    if section is None:
        walk = Walk(page, "agent-ars", limit=200, checks=lambda path: not path.startswith(SECTIONS))
        conftest.log_in_agent(page, agent, PASSWORD, on_code_page=lambda page: walk.check("code"))
    else:
        name = "agent-ars" + section.rstrip("/").replace("/admin/", "-")
        walk = Walk(page, name, limit=200, checks=lambda path: path.startswith(section))
        conftest.log_in_agent(page, agent, PASSWORD)
    walk.run("/admin/")
    walk.run_actions()
    assert walk.problems == [], report(walk)
    assert len(walk.visited) >= 10, report(walk)
    assert walk.actions >= 1, report(walk)
