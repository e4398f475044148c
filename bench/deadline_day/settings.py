"""The deadline-day load test's settings: bench/settings.py (production settings, the floor's URLs) with the tasks
worker of production (the database backend, `manage.py db_worker`) and the loopback address allowed."""

import tempfile
from pathlib import Path

from bench.settings import *  # noqa: F403


TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# bench/settings.py serves the static files from the source folder, which manage.py's checks refuse as STATIC_ROOT
# (this one runs migrate and the worker): an empty folder instead, the finders serve the files (WhiteNoise).
STATIC_ROOT = Path(tempfile.gettempdir()) / "ecars-deadline-static"
STATIC_ROOT.mkdir(exist_ok=True)
