"""Settings of the e-CARS portal.

Every value that differs between environments comes from an environment variable (12-factor).
The defaults are safe: without configuration the portal refuses to start in production mode
(no SECRET_KEY), uses HTTPS-only cookies, and runs on a local SQLite database only for the demo.
A git-ignored `.env` file at the root (or the file named by ENV_FILE) is read first; variables
already set in the environment win. See `.env.example` for the list.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from ecars.lib.env import cache_config, env_bool, env_int, env_list, env_str


BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(os.environ.get("ENV_FILE", BASE_DIR / ".env"))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set (environment variable SECRET_KEY or SECRET_KEY_FILE). "
            "For a local demo, run `make demo`, which writes one into .env."
        )
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
# Absolute links in e-mails are built from this fixed address, never from the request's Host.
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "ecars.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "widget_tweaks",
    "dsfr",
    # Ours
    "ecars",
    "accounts",
    "contracts",
    "evaluation",
    "documents",
    "audit",
    "demo",
]

MIDDLEWARE = [
    # Outermost: one JSON access line per request, and the request's id on every line logged meanwhile.
    "ecars.middleware.AccessLogMiddleware",
    # Permissions-Policy and Clear-Site-Data reach every answer, static files included.
    "ecars.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything that can answer, so that error pages (a host not allowed, a NUL byte) carry it too.
    "csp.middleware.CSPMiddleware",
    # A NUL byte is refused (400) before the session, the user or a view can take it to the database.
    "ecars.middleware.RejectNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Logs (and audits, for another EJ's objects) every 403/404 answered to a signed-in user.
    "audit.middleware.RefusedAccessMiddleware",
    "ecars.middleware.PrivatePagesAreNotCachedMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.middleware.PasswordRenewalMiddleware",
    "accounts.middleware.StaffRequireTOTPMiddleware",
]

ROOT_URLCONF = "ecars.urls"
WSGI_APPLICATION = "ecars.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ecars.context_processors.portal",
                "accounts.context_processors.session",
                "contracts.context_processors.support",
            ],
        },
    },
]

# Database. PostgreSQL in production and CI; SQLite only as the zero-set-up demo default.
DATABASES = {
    "default": environ.Env.db_url_config(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Without persistent connections every request pays ≈ 8.5 ms to connect (DESIGN.md §7).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)
    # Server-side parameters, and each statement prepared on its second use in a connection (psycopg's
    # `prepare_threshold`, which Django leaves at None): the same few queries run on every page, and a prepared
    # one skips PostgreSQL's parsing and planning (measured: a save's database time down by a third). Both off
    # (DB_SERVER_SIDE_BINDING=false) behind a pooler in transaction mode, where a connection's prepared statements
    # would not follow the client.
    server_side_binding = env_bool("DB_SERVER_SIDE_BINDING", True)
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = server_side_binding
    if server_side_binding:
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env_int("DB_PREPARE_THRESHOLD", 2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": cache_config(env_str("CACHE_URL", "locmem://"))}

# Authentication
AUTH_USER_MODEL = "accounts.User"
# Sign-in by e-mail address; staff permissions come from ecars/privileges.py only (no groups).
AUTHENTICATION_BACKENDS = ["accounts.backends.AuthenticationBackend"]
# Argon2id at OWASP's parameters (accounts/hashers.py says why); Django's default Argon2 hashes still verify.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The manual's « Règles du mot de passe » (12 to 64 characters, four classes), plus common and
# context words (SECURITY.md A1, A2). Each unmet rule gives its own French message.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.validators.LengthValidator", "OPTIONS": {"min_length": 12, "max_length": 64}},
    {"NAME": "accounts.validators.CharacterClassesValidator"},
    {"NAME": "accounts.validators.CommonPasswordValidator"},
    {"NAME": "accounts.validators.ContextWordsValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "contracts:home"

# django-allauth: e-mail address as login, no self-sign-up (accounts are created by the ARS).
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "reset_password": "accounts.forms.ResetPasswordForm",
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",
    "change_password": "accounts.forms.ChangePasswordForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# Addresses are given by the ARS and proven by the first renewal (code or link sent to them);
# a change of address is verified by a code sent to the new one (accounts.views.change_email).
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[e-CARS] "
# The manual's renewal: a code of exactly 6 digits, valid 10 minutes, voided after 3 wrong tries.
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = True
ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT = 10 * 60
ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS = 3
ALLAUTH_USER_CODE_FORMAT = {"numeric": True, "dashed": False, "length": 6}
# Rate limits (SECURITY.md A9, A10), counted in the shared cache. Per account ("key": the address)
# they are strict: 3 codes × 3 tries an hour, at most 10 codes × 3 tries = 30 guesses a day on one account;
# 5 failed logins per 5 minutes and 25 a day. Per IP address they only stop a flood, sized for a regional
# health network or a GHT gateway behind which hundreds of establishments log in within the same minute on
# deadline day (SECURITY.md note 5, issue 14): never a hospital locked out by its colleagues.
ACCOUNT_RATE_LIMITS = {
    "login": "1000/m/ip",
    "login_failed": "500/m/ip,5/5m/key,25/1d/key",
    "reset_password": "100/m/ip,3/h/key,10/d/key",
    "reset_password_from_key": "100/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
    "change_email": "5/h/user",
    # « Inviter un collègue »: per member administrator, and per EJ ("key": the EJ) whoever invites.
    "invite_member": "20/h/user,50/d/key",
    "signup": "0/m/ip",
}
# Behind the reverse proxy, the client address is the last one it appended to X-Forwarded-For.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "e-CARS"
MFA_RECOVERY_CODES_SHOW_ONCE = True
# allauth refuses TOTP on an unverified address so that a self-signed-up impostor cannot lock the real
# owner out; here nobody signs up: every address is given by the ARS or a national administrator.
MFA_ALLOW_UNVERIFIED_EMAIL = True
# A throttled reauthentication by code gets its own message and an audit event (accounts.forms).
MFA_FORMS = {"reauthenticate": "accounts.forms.MFAReauthenticateForm"}
# Updating "last seen" would cost an UPDATE on every request; sessions are listed from their login.
USERSESSIONS_TRACK_ACTIVITY = False
# A temporary password sent by e-mail (the manual's first login) works for 72 hours.
TEMPORARY_PASSWORD_VALIDITY_HOURS = 72
# An invitation link lets the new user choose a password for 7 days.
INVITATION_VALIDITY_DAYS = 7

# Sessions and cookies. HTTPS is the default; only a local demo over plain HTTP turns it off.
HTTPS = env_bool("HTTPS", True)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Sessions end after 30 minutes without a request, and 8 hours after the login whatever happens.
SESSION_COOKIE_AGE = 30 * 60
# Activity renews the session at most once a minute (accounts.middleware.SessionLifetimeMiddleware).
SESSION_SAVE_EVERY_REQUEST = False
SESSION_ABSOLUTE_LIFETIME = 8 * 60 * 60
# The page warns this long before the session ends, with a button to extend it.
SESSION_EXPIRY_WARNING = 5 * 60
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_NAME = "__Host-sessionid" if HTTPS else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if HTTPS else "csrftoken"
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preloading commits the whole parent domain (e.g. sante.fr) for years: the domain owner decides.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The reverse proxy in front of gunicorn must set (and strip from clients) X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "ecars.views.csrf_failure"

# Content Security Policy (django-csp 4). Every script and style is a file served by us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Internationalisation: the portal speaks French.
LANGUAGE_CODE = "fr-fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# Static files: collected, fingerprinted and served by whitenoise. User documents never go there.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_COMPRESS = env_bool("STATIC_COMPRESS", True)

# Documents: a private local folder by default, S3 in production. Never served by the static server.
DOCUMENTS_STORAGE = env_str("DOCUMENTS_STORAGE", "local")
if DOCUMENTS_STORAGE == "local":
    _documents_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env_str("DOCUMENTS_ROOT", str(BASE_DIR / "private" / "documents")),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
elif DOCUMENTS_STORAGE == "s3":
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    _documents_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "us-east-1"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            # Given a client_config, django-storages ignores its addressing_style and signature_version
            # options: they live in the Config, with bounded timeouts and retries (SECURITY.md R5).
            "client_config": Config(
                s3={"addressing_style": env_str("AWS_S3_ADDRESSING_STYLE", "path")},
                signature_version="s3v4",
                connect_timeout=env_int("AWS_S3_CONNECT_TIMEOUT", 5),
                read_timeout=env_int("AWS_S3_READ_TIMEOUT", 30),
                retries={"mode": "standard", "total_max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3)},
            ),
            # One streamed PutObject up to 64 MiB (documents are at most 20 Mo): boto3's multipart upload
            # of a file object reads every part into memory (~25 MiB for 20 Mo), and a single PUT is
            # atomic, so an interrupted upload leaves no partial object behind (SECURITY.md R4).
            "transfer_config": TransferConfig(multipart_threshold=64 * 1024 * 1024),
            # Reading an object spools it to a temporary file above 512 KB (the default keeps it in memory).
            "max_memory_size": 512 * 1024,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            # Never replace an object: every upload gets a fresh random key.
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"DOCUMENTS_STORAGE must be 'local' or 's3', got {DOCUMENTS_STORAGE!r}")

STORAGES = {
    # Nothing goes to the default storage (ecars/storage.py): files name theirs.
    "default": {"BACKEND": "ecars.storage.NoDefaultStorage"},
    "documents": _documents_storage,
    "staticfiles": {
        "BACKEND": (
            "ecars.storage.CompressedStaticFilesStorage" if STATIC_COMPRESS else "ecars.storage.StaticFilesStorage"
        ),
    },
}

# Antivirus (documents/antivirus.py, SECURITY.md §2): a clamd service reached over a unix socket
# (CLAMD_SOCKET) or TCP (CLAMD_HOST, CLAMD_PORT); it keeps its own signatures up to date. Without
# either, scanning is off (the demo): documents stay « en attente » and remain downloadable.
CLAMD_SOCKET = env_str("CLAMD_SOCKET")
CLAMD_HOST = env_str("CLAMD_HOST")
CLAMD_PORT = env_int("CLAMD_PORT", 3310)
# Seconds allowed for connecting and for each exchange with clamd.
CLAMD_TIMEOUT = env_int("CLAMD_TIMEOUT", 30)

# Uploads stream to disk above 512 KB instead of filling worker memory, read by chunks of 1 MiB
# (documents/upload_handlers.py says why).
FILE_UPLOAD_MAX_MEMORY_SIZE = 512 * 1024
FILE_UPLOAD_HANDLERS = [
    "documents.upload_handlers.LargeChunkMemoryFileUploadHandler",
    "documents.upload_handlers.SizeCappedTemporaryFileUploadHandler",
]
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# E-mail, configured by one URL: smtp://user:password@host:port, smtp+tls://…, consolemail://
_email = environ.Env.email_url_config(env_str("EMAIL_URL", "consolemail://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"] or None
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "e-CARS <ne-pas-repondre@ecars.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# An e-mail the SMTP server cannot take (down, refusing, timing out, a 4xx answer) is queued again this many
# seconds later, for up to EMAIL_RETRY_HOURS after its first try (ecars.emails.deliver); a code that expires
# meanwhile is dropped.
EMAIL_RETRY_DELAY = env_int("EMAIL_RETRY_DELAY", 60)
EMAIL_RETRY_HOURS = env_int("EMAIL_RETRY_HOURS", 24)

# Background work: Django's tasks API, stored in the database, run by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# National fallback for « Un problème ? » when a page has no region.
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "ars.ecars@sg.social.gouv.fr")
SUPPORT_PHONE = env_str("SUPPORT_PHONE", "07 61 92 29 71")

# The legal pages (« Mentions légales », « Données personnelles », « Accessibilité »): who publishes and hosts the
# service, who answers for personal data. Each deployment sets its own (.env.example lists them).
PUBLISHER_NAME = env_str("PUBLISHER_NAME", "Ministère chargé de la santé")
PUBLISHER_ADDRESS = env_str("PUBLISHER_ADDRESS", "14 avenue Duquesne, 75350 Paris 07 SP")
PUBLICATION_DIRECTOR = env_str(
    "PUBLICATION_DIRECTOR", "Le secrétaire général des ministères chargés des affaires sociales"
)
HOST_NAME = env_str("HOST_NAME", "Direction du numérique des ministères sociaux (DNUM)")
HOST_ADDRESS = env_str("HOST_ADDRESS", "39-43 quai André Citroën, 75015 Paris")
DPO_CONTACT = env_str(
    "DPO_CONTACT", "Délégué à la protection des données des ministères sociaux, 14 avenue Duquesne, 75350 Paris 07 SP"
)
# How long the server's own logs (requests, refusals) are kept where the host keeps them.
SERVER_LOGS_RETENTION = env_str("SERVER_LOGS_RETENTION", "un an")

# django-dsfr: the integrity hashes stay valid because our manifest storage leaves CSS untouched.
DSFR_USE_INTEGRITY_CHECKSUMS = True

# One JSON object per line on the standard error (ecars/lib/logs.py): UTC timestamp, level, logger, message, the
# request's or task's id, the record's fields. `ecars.access` has a line per request, `ecars.tasks` one per task run.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "ecars.lib.logs.ContextFilter"},
    },
    "formatters": {
        "json": {"()": "ecars.lib.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # SQL at DEBUG would hold session keys and every text typed: never, whatever LOG_LEVEL says.
        "django.db.backends": {"level": "INFO"},
        # At DEBUG it logs each variable a template lacks with the whole context (the CSRF token, the forms' values).
        "django.template": {"level": "INFO"},
        # Refused accesses, rate limits (audit.security): kept even if LOG_LEVEL is raised.
        "ecars.security": {"level": "INFO"},
    },
}
