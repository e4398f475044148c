import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from ecars.lib.env import cache_config, env_bool, env_int


def run_manage(*args, **env_overrides):
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "/nonexistent",  # ignore a developer's .env
        "DJANGO_SETTINGS_MODULE": "ecars.settings",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_the_deployment_checklist():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="ecars.ars.sante.fr",
        DATABASE_URL="sqlite:////tmp/unused.sqlite3",
        CACHE_URL="redis://127.0.0.1:6379/0",
        TRUSTED_PROXY_COUNT="1",
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_deployment_check_warns_of_a_proxy_count_of_zero():
    """Issue 10: behind the reverse proxy, every user would share the proxy's address in the rate limits."""
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="ecars.ars.sante.fr",
        DATABASE_URL="sqlite:////tmp/unused.sqlite3",
        CACHE_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode != 0
    assert "accounts.W002" in result.stderr


def test_deployment_check_refuses_a_per_process_cache():
    """SECURITY.md A11: rate limits must be counted in a cache shared by every worker."""
    result = run_manage(
        "check",
        "--deploy",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="ecars.ars.sante.fr",
        DATABASE_URL="sqlite:////tmp/unused.sqlite3",
        CACHE_URL="locmem://",
    )
    assert result.returncode != 0
    assert "accounts.E001" in result.stderr


def test_no_model_change_is_missing_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_production_hashes_passwords_with_argon2():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])",
        DEBUG="1",
    )
    assert result.stdout.strip() == "accounts.hashers.Argon2idHasher"


def test_deny_by_default_and_one_transaction_per_request():
    assert "django.contrib.auth.middleware.LoginRequiredMiddleware" in settings.MIDDLEWARE
    assert connection.settings_dict["ATOMIC_REQUESTS"] is True
    assert settings.LANGUAGE_CODE == "fr-fr"
    assert settings.TIME_ZONE == "Europe/Paris"
    assert settings.SESSION_ENGINE != "django.contrib.sessions.backends.signed_cookies"


def test_production_database_connections_are_persistent_and_health_checked():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection; d = connection.settings_dict; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])",
        SECRET_KEY="x",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/ecars",
    )
    assert result.stdout.split() == ["600", "True"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_a_statement_run_twice_in_a_connection_is_prepared_unless_a_pooler_forbids_it():
    """Every page runs the same few queries: from its second run a statement is prepared, so that PostgreSQL
    neither parses nor plans it again; behind a pooler in transaction mode (DB_SERVER_SIDE_BINDING=false) nothing
    is."""
    query = "from django.db import connection; from contracts.models import Region; "
    query += "[list(Region.objects.filter(code='76')) for _ in range(3)]; c = connection.cursor(); "
    query += "c.execute(\"SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%contracts_region%%'\"); "
    query += "print(c.fetchone()[0])"
    database = f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"
    prepared = run_manage("shell", "--no-imports", "-c", query, SECRET_KEY="x", DATABASE_URL=database)
    assert prepared.stdout.split() == ["1"], prepared.stderr
    pooled = run_manage(
        "shell", "--no-imports", "-c", query, SECRET_KEY="x", DATABASE_URL=database, DB_SERVER_SIDE_BINDING="false"
    )
    assert pooled.stdout.split() == ["0"], pooled.stderr


@pytest.mark.parametrize(
    "url,backend",
    [
        ("redis://127.0.0.1:6379/1", "django.core.cache.backends.redis.RedisCache"),
        ("locmem://", "django.core.cache.backends.locmem.LocMemCache"),
        ("db://ecars_cache", "django.core.cache.backends.db.DatabaseCache"),
    ],
)
def test_cache_url_is_parsed(url, backend):
    assert cache_config(url)["BACKEND"] == backend


def test_malformed_environment_values_stop_the_start(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "peut-être")
    with pytest.raises(ImproperlyConfigured):
        env_bool("SOME_FLAG", False)
    monkeypatch.setenv("SOME_NUMBER", "dix")
    with pytest.raises(ImproperlyConfigured):
        env_int("SOME_NUMBER", 1)
    with pytest.raises(ImproperlyConfigured):
        cache_config("memcached://127.0.0.1")


def test_no_file_goes_to_the_default_storage():
    """Every FileField names its storage; a forgotten one fails loudly instead of landing among the documents."""
    from django.core.exceptions import ImproperlyConfigured
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage, storages

    with pytest.raises(ImproperlyConfigured):
        default_storage.save("égaré.txt", ContentFile(b"x"))
    assert storages["documents"] is not default_storage
