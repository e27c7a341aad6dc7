# The two Quickstart commands: `make demo` and `make test`. Everything else is their plumbing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint install system-deps bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# `make demo PORT=8123` serves the UI on another port; `make demo ARGS="--no-serve --users 200"` passes more.
demo: PORT ?= 8000
demo: install
	$(PY) manage.py demo --port $(PORT) $(ARGS)

# System tools the tests use, from Debian's packages: headless Chromium for the browser tests (a test
# tool's own browser download cannot work offline) and docker-compose to validate the compose file.
CHROMIUM ?= /usr/bin/chromium
system-deps:
	@missing=""; \
	  test -x $(CHROMIUM) || missing="$$missing chromium"; \
	  command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing from Debian's packages:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  fi

test: install system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

bench: install
	@command -v hey >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq hey >/dev/null; }
	$(PY) bench/decisions.py
	$(PY) bench/proxy_overhead.py
	$(PY) bench/report_time.py
	$(PY) bench/faults.py
	$(PY) bench/ttft.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
