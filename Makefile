# The two Quickstart commands: `make demo` and `make test`. Everything else is their plumbing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint install browser bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py demo

# The browser tests drive Debian's headless Chromium (a test tool's own browser download cannot work offline).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: install
	$(PY) bench/decisions.py
	$(PY) bench/proxy_overhead.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
