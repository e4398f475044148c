"""The stylesheets every page loads (issue 15): none locks the display's orientation (WCAG 1.3.4). axe-core's rule
« css-orientation-lock » needs stylesheets preloaded, which the browser tests turn off (tests/e2e/conftest.py's
axe_violations), so it is checked here, on every stylesheet the static files hold."""

import re

from django.contrib.staticfiles import finders


def stylesheets():
    for finder in finders.get_finders():
        for path, storage in finder.list(ignore_patterns=[]):
            if path.endswith(".css") and (path.startswith(("admin/css/", "css/", "dsfr/dist/dsfr/"))):
                yield path, storage


def test_no_stylesheet_locks_the_orientation():
    checked = []
    for path, storage in stylesheets():
        with storage.open(path) as file:
            text = file.read().decode()
        assert not re.search(r"orientation\s*:", text), path
        checked.append(path)
    # The project's, the DSFR's and the admin's stylesheets were all read.
    assert {"css/ecars.css", "css/admin.css", "dsfr/dist/dsfr/dsfr.min.css", "admin/css/forms.css"} <= set(checked)
