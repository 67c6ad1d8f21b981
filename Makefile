# carepath: `make run` (app with demo data) and `make test` (the whole suite, SQLite then PostgreSQL).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app coordinator
STAMP := $(VENV)/.installed
# The PostgreSQL run of `make test`. Override for another server; the tests use their own schema in it.
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# `make bench` loads its data sets into the schemas carepath_bench (REST API and web pages),
# carepath_bench_pathways (gap scan) and carepath_bench_ingest (MedCom ingest) of this server, each dropped
# and made again.
BENCH_DATABASE_URL ?= $(PG_TEST_URL)
HOST ?= 127.0.0.1
PORT ?= 5000
# `make run` sends its mail to a local sink (flask demo mail-sink) that keeps it here, shown on /dev/mail.
DEMO_MAIL_PORT ?= 8025
DEMO_MAIL_DIR ?= $(CURDIR)/instance/demo-mail

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install
install: $(STAMP) translations assets ## Create .venv and install carepath with the dev tools and front-end files

# Front-end packages (package.json, exact versions, package-lock.json without registry addresses) are
# installed by `npm ci` without their install scripts, and their built files copied to the git-ignored
# coordinator/static/vendor/ (no CDN).
VENDOR := coordinator/static/vendor
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR)/.installed: node_modules/.installed coordinator/tools/vendor_assets.py | $(STAMP)
	$(BIN)/python -m coordinator.tools.vendor_assets
	touch $@

.PHONY: assets
assets: $(VENDOR)/.installed ## Install the front-end packages (npm ci) and copy their files to the static folder

.PHONY: translations
translations: $(STAMP) ## Compile the UI translations (Danish, English)
	@$(BIN)/pybabel compile -d coordinator/translations >/dev/null

.PHONY: run
run: install ## Migrate, load demo data, print demo logins, serve on http://127.0.0.1:5000 with the scheduler and a mail sink
	$(FLASK) db upgrade
	$(FLASK) demo load --reset-passwords
	@echo "carepath on http://$(HOST):$(PORT), scheduler and demo mail sink beside it; sent mail: http://$(HOST):$(PORT)/dev/mail  (Ctrl-C stops all)"
	@export SMTP_HOST=127.0.0.1 SMTP_PORT=$(DEMO_MAIL_PORT) SMTP_SECURITY=none SMTP_USERNAME= \
	  DEMO_MAIL_DIR='$(DEMO_MAIL_DIR)' PUBLIC_BASE_URL=http://$(HOST):$(PORT); \
	$(FLASK) demo mail-sink --port $(DEMO_MAIL_PORT) & sink=$$!; \
	$(FLASK) scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler $$sink 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

.PHONY: scheduler
scheduler: install ## Run the scheduler process alone (gap scan, outbox, digests, escalation)
	$(FLASK) scheduler run

.PHONY: chromium
chromium: ## Debian's chromium for the browser tests (installed with apt-get when missing; needs root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install -y chromium', then make test" >&2; exit 1; fi; }

.PHONY: test
test: install chromium ## Run the whole suite on SQLite, then the database tests on PostgreSQL
	$(BIN)/pytest
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -m db

.PHONY: test-sqlite
test-sqlite: install ## Run the whole suite on SQLite only (no server needed)
	$(BIN)/pytest

.PHONY: screenshots
screenshots: install chromium ## Save the main pages in Danish to docs/screenshots/ (demo data, Debian chromium)
	$(BIN)/python -m coordinator.tools.screenshots

.PHONY: bench
bench: install ## Benchmarks on PostgreSQL: REST API, web pages, gap scan (1M pathways), MedCom ingest (ARGS="--only pages --reuse")
	BENCH_DATABASE_URL='$(BENCH_DATABASE_URL)' $(BIN)/python -m bench.run $(ARGS)

.PHONY: lint
lint: install ## ruff check, ruff format --check, mypy (strict on the domain and the FHIR mappers, checked on the app)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: install ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: migration
migration: install ## Autogenerate a migration: make migration m="what changed"
	$(BIN)/alembic revision --autogenerate -m "$(m)"

.PHONY: check-migrations
check-migrations: install ## Fail if models and migrations disagree (alembic check on a fresh database)
	$(BIN)/python -m coordinator.tools.check_migrations

.PHONY: messages
messages: install ## Extract UI strings and update the .po catalogues
	$(BIN)/pybabel extract -F coordinator/babel.cfg -k _l -k N_ -k Nn_:1,2 --no-location --sort-output --omit-header -o coordinator/translations/messages.pot coordinator
	$(BIN)/pybabel update -i coordinator/translations/messages.pot -d coordinator/translations --no-fuzzy-matching

.PHONY: clean
clean: ## Remove the venv, caches and the local SQLite database
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache .hypothesis
