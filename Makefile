# The two commands of the quick start: `make run` (the demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: run test bench lint lock redis-server chromium clean

# constraints.txt pins every package to the versions the suite last passed with: a fresh machine
# otherwise resolves the newest releases, and the framework under every figure changes between runs.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The newest releases pyproject.toml admits, resolved in a throwaway venv; then `make test`.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet -e '.[test]'
	{ sed -n '/^#/p' constraints.txt; .venv-lock/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-lock

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
