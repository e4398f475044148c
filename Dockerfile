# syntax=docker/dockerfile:1
# e-CARS: one image serves the web (gunicorn) and the operations (manage.py, db_worker).

FROM python:3.11-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
# Static files are collected (and compressed) at build time with a throw-away key.
RUN SECRET_KEY=build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 .venv/bin/python manage.py collectstatic --noinput -v0

FROM python:3.11-slim-bookworm AS runtime
# libmagic1: file typing (python-magic); pango and harfbuzz: PDF receipts (WeasyPrint).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 ecars \
    && mkdir -p /var/lib/ecars/documents && chown ecars /var/lib/ecars/documents
WORKDIR /app
COPY --from=build --chown=ecars /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DOCUMENTS_ROOT=/var/lib/ecars/documents
USER ecars
EXPOSE 8000
# Asks as the proxy would: the public host name and HTTPS, so that ALLOWED_HOSTS and the HTTPS
# redirect apply as in production.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD python -c "\
import os, urllib.parse, urllib.request; \
host = urllib.parse.urlsplit(os.environ.get('SITE_URL', 'http://localhost')).hostname; \
request = urllib.request.Request('http://127.0.0.1:8000/sante/', headers={'Host': host, 'X-Forwarded-Proto': 'https'}); \
urllib.request.urlopen(request, timeout=4)" || exit 1
CMD ["gunicorn", "-c", "gunicorn.conf.py", "ecars.wsgi"]
