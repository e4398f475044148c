"""Test settings: the production settings with fast hashing, in-memory e-mail and immediate tasks.

The database is whatever DATABASE_URL says; `.ci/run` and `make test` point it at PostgreSQL.
"""

import os
import tempfile


# Tests never read a developer's .env: they must behave the same on every machine.
os.environ["ENV_FILE"] = os.devnull
# Plain `pytest` runs on PostgreSQL like `make test` (locks, triggers and the worker need it); the
# suite stops at once, saying how to start it, if it is not there (tests/conftest.py).
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ecars")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# The live server's request threads must not keep connections open past the test database's
# teardown; production keeps them (see test_settings.py).
os.environ.setdefault("DB_CONN_MAX_AGE", "0")

from ecars.settings import *  # noqa: E402, F403


PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S303
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# Tests call the views over plain HTTP; the secure-cookie settings themselves stay as in production.
SECURE_SSL_REDIRECT = False
# No collectstatic needed before the tests.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
STORAGES["documents"] = {  # noqa: F405
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": tempfile.mkdtemp(prefix="ecars-test-documents-"), "base_url": None},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ecars-tests"}}
# whitenoise serves straight from the apps' static folders (no STATIC_ROOT in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
