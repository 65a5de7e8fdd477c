# Loopdesk — two commands for a new user: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test setup system-deps postgres mariadb chromium poppler lint sqllint typecheck bench clean

run: setup  ## set up, make demo data, serve the console with demo users printed
	$(BIN)/loopdesk demo

# Tests marked `slow` (the simulator's long worlds, the eight-coordinator shifts, the demo's
# whole set-up, the lead-lifecycle property) run under CI=true only, so that a local `make test`
# stays short (about 12 min on a slow two-core machine); `make test CI=true` (what .ci/run does) runs them all.
SLOW_FILTER := $(if $(filter true,$(CI)),,-m "not slow")

test: setup system-deps lint sqllint typecheck  ## set up and run every test suite (slow ones under CI=true)
	CI=$${CI:-} $(BIN)/python -m pytest $(SLOW_FILTER) $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps: postgres mariadb chromium poppler

# The PostgreSQL suite needs a server on 127.0.0.1:5432; start the local cluster if it is down.
postgres:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start || true; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi

# The live Open Dental read is tested against MariaDB on 127.0.0.1:3306; start it if it is down.
mariadb:
	@if command -v mysqladmin >/dev/null && ! mysqladmin ping --silent >/dev/null 2>&1; then \
		echo "starting MariaDB"; \
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true; \
		for i in $$(seq 1 30); do mysqladmin ping --silent >/dev/null 2>&1 && break; sleep 1; done; \
	fi

# The browser suite drives Debian's Chromium (downloaded browsers cannot run here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The report-PDF test saves its first page as a PNG with poppler's pdftoppm.
poppler:
	@if ! command -v pdftoppm >/dev/null; then \
		echo "installing Debian's poppler-utils for the report-PDF test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	fi

lint: setup
	$(BIN)/ruff check .

# The warehouse SQL in the house style (.sqlfluff says which rules and why). Two worker
# processes; their pool's shutdown warning about semaphores is noise, so it is silenced.
sqllint: setup
	PYTHONWARNINGS="ignore:resource_tracker:UserWarning" $(BIN)/sqlfluff lint warehouse/models warehouse/checks --processes 2

typecheck: setup
	$(BIN)/mypy loopdesk_core console pipelines warehouse pages streamlit_app.py bench

bench: setup
	$(BIN)/python -P bench/pipeline.py
	$(BIN)/python -P bench/queue.py
	$(BIN)/python -P bench/metrics.py
	$(BIN)/python -P bench/console_flow.py
	$(BIN)/python -P bench/simulate.py

clean:
	rm -rf $(VENV) .loopdesk .pytest_cache .mypy_cache .ruff_cache
