"""Benchmark settings: production settings (DEBUG off, cached templates, Argon2 untouched by the
measured paths), with the two floor views of bench/urls.py."""

import os


os.environ["ENV_FILE"] = os.devnull
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ecars_bench")
os.environ.setdefault("HTTPS", "false")

from ecars.settings import *  # noqa: E402, F403


ROOT_URLCONF = "bench.urls"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
ALLOWED_HOSTS = ["testserver", "localhost"]
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]  # noqa: F405
STATIC_ROOT = BASE_DIR / "static"  # noqa: F405 - no collectstatic for a benchmark
