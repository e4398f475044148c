"""The production settings (ecars/settings.py, read from the environment) for the processes that
tests/ecars/test_scale_out.py starts: gunicorn and the tasks worker.

One difference only: the static files are served from the source folders, as in ecars/settings_test.py,
since a test does not run `collectstatic` (the production's manifest storage refuses to render a page
without its manifest). The database, the cache, the documents' storage, the tasks, the password hashers,
the cookies and the antivirus are the production's, from the variables the test sets.
"""

from ecars.settings import *  # noqa: F403


STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
