# e-CARS — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_PASSWORD ?= Demo-e-CARS-2026!
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ecars
CHROMIUM ?= /usr/bin/chromium
# The suite runs on one process per core (at most 4: each browser test drives its own chromium); a process that has
# finished its share takes tests from the others' (worksteal: the long browser walks do not end up on one process).
# PYTEST_ARGS= runs it on one process.
PYTEST_ARGS ?= --numprocesses=auto --maxprocesses=4 --dist=worksteal

.PHONY: help demo test drills quality check-deploy fix bench bench-campaign bench-deadline bench-audit venv venv-runtime system-packages browser antivirus check-postgres migrate worker

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

demo: venv-runtime system-packages ## Install and run the portal with the demo world on SQLite
	@test -f .env || { \
		echo "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
		echo "HTTPS=false"; \
		echo "STATIC_COMPRESS=false"; \
		echo "SITE_URL=http://127.0.0.1:$(PORT)"; \
	} > .env
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo --password '$(DEMO_PASSWORD)'
	@echo
	@echo "  e-CARS est prêt : http://127.0.0.1:$(PORT)/"
	@echo "  Connexion de démonstration : contact.et1.etablissement@test.fr / $(DEMO_PASSWORD)"
	@echo "  (mot de passe temporaire, à renouveler à la première connexion)"
	@echo "  Agents (même mot de passe, /admin/, avec la clé de double authentification affichée"
	@echo "  ci-dessus au premier lancement) : mourad.abed@ars.sante.fr (ARS),"
	@echo "  claire.morel@assurance-maladie.fr (AM), paul.girard@omedit-occitanie.fr (OMEDIT)."
	@echo "  « CAQES CLINIQUE DU PARC » est clos : à évaluer dans Évaluations."
	@echo "  Les courriels (codes de vérification…) s'affichent dans ce terminal."
	@echo "  Arrêt : Ctrl+C"
	@echo
	@$(PY) manage.py db_worker --no-reload --interval 1 & worker=$$!; \
		trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(VENV)/bin/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$(PORT) --workers 2 ecars.wsgi

test: venv system-packages browser antivirus check-postgres ## Install and run the whole test suite (PostgreSQL, browser tests included)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} ECARS_CHROMIUM=$(CHROMIUM) $(VENV)/bin/pytest $(PYTEST_ARGS)

drills: venv system-packages check-postgres ## The fault drills alone (tests/drills, also in `make test`): PostgreSQL cut, S3 stopped… (DRILL_DATABASE_CUT=20: the issue's 20 s cut)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(VENV)/bin/pytest -p no:randomly -n 0 tests/drills

quality: venv ## Lint, format check, the apps' layers and missing migrations
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=1 DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run

check-deploy: venv ## Django's deployment checklist (check --deploy) on the production settings, warnings refused
	ENV_FILE=/nonexistent DJANGO_SETTINGS_MODULE=ecars.settings SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		ALLOWED_HOSTS=ecars.ars.sante.fr DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		CACHE_URL=redis://127.0.0.1:6379/0 TRUSTED_PROXY_COUNT=1 $(PY) manage.py check --deploy --fail-level WARNING

fix: venv ## Apply the linter's fixes and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv system-packages check-postgres ## Measure the indicator tree, a question's save, the documents' ZIP and upload against the floors (DESIGN.md §7)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ecars_bench} $(PY) bench/tree_and_save.py
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ecars_bench} $(PY) bench/documents.py

bench-campaign: venv system-packages check-postgres ## Measure the national operations: open_campaign against a plain COPY, dashboard, exports, FINESS import
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ecars_bench} $(PY) bench/open_campaign.py
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ecars_bench} $(PY) bench/import_finess.py

bench-deadline: venv system-packages check-postgres ## Load-test deadline day with Locust behind gunicorn, 3 interleaved rounds (bench/deadline_day/run.py; 30 minutes)
	$(PY) bench/deadline_day/run.py

bench-audit: venv check-postgres ## Measure the audit trail's hash chain: 8 concurrent writers on distinct EJ chains and on one chain, against plain inserts (about a minute)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ecars_bench} $(PY) bench/audit_chain.py

migrate: venv-runtime ## Apply the database migrations (DATABASE_URL)
	$(PY) manage.py migrate

worker: venv-runtime ## Run the background tasks worker (e-mails…)
	$(PY) manage.py db_worker

venv: $(UV) ## Create .venv with every dependency, development tools included
	$(UV) sync --locked --quiet -p $(PYTHON)

venv-runtime: $(UV)
	$(UV) sync --locked --quiet --no-dev -p $(PYTHON)

.tools/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "e-CARS a besoin de Python 3.11 ou plus récent : installez-le (paquet Debian python3) ou indiquez PYTHON=…"; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# System packages: installed when we can (root with apt-get), otherwise a clear message names them.
define require_package
	@if ! $(1); then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installation du paquet système $(2)…"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq --no-install-recommends $(2) >/dev/null 2>&1 \
				|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(2) >/dev/null; }; \
		else \
			echo "Paquet système manquant : $(2). Installez-le (sudo apt-get install $(2)) puis relancez."; exit 1; \
		fi; \
	fi
endef

system-packages: ## Install the system libraries the portal needs (libmagic1; pango and harfbuzz for PDF)
	$(call require_package,ldconfig -p | grep -q 'libmagic\.so\.1',libmagic1)
	$(call require_package,ldconfig -p | grep -q 'libpangoft2-1\.0\.so\.0',libpango-1.0-0 libpangoft2-1.0-0)
	$(call require_package,ldconfig -p | grep -q 'libharfbuzz-subset\.so\.0',libharfbuzz-subset0)

browser: ## Install Debian's chromium for the browser tests
	$(call require_package,test -x $(CHROMIUM),chromium fonts-liberation)

# ClamAV for the antivirus tests, which start their own clamd on a signature database built from
# the EICAR test string (nothing is downloaded). Debian's package scripts would start clamd and
# freshclam: while installing, a policy-rc.d refuses every service start (unless the machine has its
# own already; ours is removed afterwards, even after an interrupted run) and freshclam is set to
# manual. A failed install does not stop `make test`: the antivirus tests then skip, saying why.
POLICY_RC_D := /usr/sbin/policy-rc.d
POLICY_RC_D_MARK := installed by e-CARS make antivirus

antivirus: ## Install ClamAV (clamd, sigtool) for the antivirus tests, starting no service
	@if [ "$$(id -u)" = 0 ] && ! test -x /usr/sbin/clamd -a -x /usr/bin/sigtool; then \
		test -e $(POLICY_RC_D) || { printf '#!/bin/sh\n# $(POLICY_RC_D_MARK)\nexit 101\n' > $(POLICY_RC_D) \
			&& chmod 755 $(POLICY_RC_D); }; \
		echo 'clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual' | debconf-set-selections 2>/dev/null || true; \
	fi
	-$(call require_package,test -x /usr/sbin/clamd -a -x /usr/bin/sigtool,clamav-daemon clamav)
	@! grep -qs '$(POLICY_RC_D_MARK)' $(POLICY_RC_D) || rm -f $(POLICY_RC_D)

check-postgres:
	@DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -c 'import os, psycopg; psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1), dbname="postgres", connect_timeout=3).close()' 2>/dev/null || { \
		echo "PostgreSQL n'est pas joignable ($${DATABASE_URL:-$(TEST_DATABASE_URL)})."; \
		echo "Démarrez-le (pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start) ou indiquez DATABASE_URL."; \
		exit 1; }
