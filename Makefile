# The two commands of the quick start: `make run` (the demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench lint redis-server chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

redis-server:
	@scripts/ensure-redis-server

chromium:
	@scripts/ensure-chromium

run: $(STAMP) redis-server
	$(VENV)/bin/sessionplane demo --port 8600

lint: $(STAMP)
	$(VENV)/bin/ruff check sessionplane tests bench

test: $(STAMP) redis-server chromium lint
	$(PY) -m pytest -n 2 --cov --cov-report=term --durations=15

bench: $(STAMP) redis-server
	$(PY) -m bench
	$(PY) -m bench.sampler

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .sessionplane .coverage .coverage.*
