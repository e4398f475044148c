"""Every page an ARS agent reaches (issue 15), as test_every_page.py walks the others': from its TOTP code page and
the admin's index, every link, then each admin action of each list up to its own page; at 1,280 and 320 px, zero
axe-core violation of any impact, no console error, no sideways scrolling."""

from accounts.models import User
from demo.world import ARS_USER_EMAIL
from tests.e2e import conftest
from tests.e2e.conftest import DEMO_PASSWORD as PASSWORD
from tests.e2e.walk import Walk, report


def test_every_page_an_ars_agent_reaches_is_accessible_at_1280_and_320_px(page, walk_world):
    agent = Walk(page, "agent-ars", limit=200)
    conftest.log_in_agent(
        page, User.objects.get(email=ARS_USER_EMAIL), PASSWORD, on_code_page=lambda page: agent.check("code")
    )
    agent.run("/admin/")
    agent.run_actions()
    assert agent.problems == [], report(agent)
    assert len(agent.visited) >= 20, report(agent)
    assert agent.actions >= 3, report(agent)
