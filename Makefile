# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-runtime run test lint format schema migrate seed bench loadtest screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Two stamps, each re-installing only when its requirements changed: the
# runtime set (requirements.txt) for `make run`, migrate and seed; the dev
# set (requirements-dev.txt: the runtime set plus test, lint and benchmark
# tools) for everything else. `make install` is the dev set, as CI uses it.
$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed

install-runtime: $(VENV)/.installed-runtime

migrate: install-runtime
	$(BIN)/python manage.py migrate --no-input

# Demo data; idempotent, so a rerun creates nothing. SEED_ARGS="--reset" starts over.
seed: migrate
	$(BIN)/python manage.py seed $(SEED_ARGS)

run: seed
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Seeds a scratch database and times the main routes (see bench/README.md).
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# HTTP load test: 1,000,000 purchases on PostgreSQL, production settings under
# gunicorn, wrk against a bare-Django ceiling: the mixed workload, each
# route of the mix alone, then the same-URL best case. Writes bench/RESULTS.md and
# bench/results/*.json, then redraws docs/performance.svg and the figures of
# docs/performance.md from them (see bench/README.md). About 10 minutes with
# the seeded template reused, a few more when it is seeded.
loadtest: install
	$(BIN)/python bench/loadtest.py $(LOADTEST_ARGS)
	$(BIN)/python bench/chart.py

schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn > /dev/null

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache

# The back office's screenshots in docs/, from the browser tests (which
# otherwise keep them in a temporary directory: tests never write the tree).
screenshots: install
	SCREENSHOTS_DIR=$(CURDIR)/docs $(BIN)/pytest -m browser -q $(PYTEST_ARGS)
