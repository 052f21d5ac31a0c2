# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml local/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./local -e '.[dev,local]'
	touch $(STAMP)

# without DISCORD_TOKEN, local mode is asked for (--local): a config/bubabot.toml in the
# checkout would otherwise make `bubabot` refuse to start without a token
run: $(STAMP)  ## Run Bubabot (local mode with an emulated Discord and a simulated Remi when no DISCORD_TOKEN is set)
	$(BIN)/bubabot $(if $(DISCORD_TOKEN),,--local) $(ARGS)

test: $(STAMP) lint typecheck unit  ## Lint, type-check, run every test and measure coverage

lint: $(STAMP)
	$(BIN)/ruff check remi_ops bubabot local tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# branch coverage of remi_ops, bubabot and bubabot_local, child processes included; the run
# fails under the floor (fail_under in pyproject.toml). `.venv/bin/coverage html` afterwards
# shows what the tests miss, line by line, in htmlcov/. Four workers: the tests mostly wait on
# real processes and timers (CPU is about a third of wall time), so they overlap well.
unit: $(STAMP)
	$(BIN)/pytest -q -n 4 --cov --cov-report=term

bench: $(STAMP)
	$(BIN)/python bench/bench_supervisor.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* htmlcov
