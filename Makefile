# antrean: two commands on a fresh machine.
#   make run    install everything, load the demo clinic (once), serve on http://127.0.0.1:8000
#   make test   install everything, run linters, type checks and the whole test suite

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint messages bench-booking clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/antrean demo
	$(BIN)/antrean serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests/e2e
	$(BIN)/lint-imports
	$(BIN)/mypy

# Two processes: the machine CI runs on has two cores. Each has its own databases and servers.
test: lint
	$(BIN)/pytest -n 2 --dist worksteal --durations=20

# After changing a visible string: add it to both catalogs, then translate the Indonesian one.
messages: install
	$(BIN)/python scripts/catalogs.py

bench-booking: install
	$(BIN)/python bench/booking.py --db sqlite
	$(BIN)/python bench/booking.py --db postgresql

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
