# PicTrace task runner. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_INDEX ?= demo-index
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo demo-index test lint typecheck check bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[web,dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

demo-index: setup
	@if [ ! -f $(DEMO_INDEX)/catalogue.sqlite ]; then \
	  $(VENV)/bin/pictrace --index $(DEMO_INDEX) add examples/photos; fi

demo: demo-index
	$(VENV)/bin/pictrace --index $(DEMO_INDEX) search examples/photos/box.png -k 5
	$(VENV)/bin/pictrace --index $(DEMO_INDEX) search --text "tabby cat" -k 3
	@echo "Serving the web app at http://$(HOST):$(PORT) (Ctrl-C to stop)"
	$(VENV)/bin/pictrace --index $(DEMO_INDEX) serve --host $(HOST) --port $(PORT)

test: setup browser
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/ruff format --check src tests bench tools

typecheck: setup
	$(VENV)/bin/mypy

# Benchmarks read ../shared (the development photos and labelled sets); see BENCHMARKS.md.
bench: setup
	$(PY) bench/bench_copy.py
	$(PY) bench/semantic_eval.py --latency 60
	$(PY) bench/bench_http.py
	$(PY) bench/bench_local_scale.py
	$(PY) bench/bench_duplicates.py

check: lint typecheck test

clean:
	rm -rf $(VENV) $(DEMO_INDEX) .pytest_cache
