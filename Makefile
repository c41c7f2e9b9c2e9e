# One command to run the service, one to run the whole suite, one for the inner loop. All build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast check lint typecheck fmt bench clean screenshots

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/gitproductivity serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The checks alone, as the pre-commit hooks run them: make lint, then mypy over src/ and tests/
check: lint typecheck

# The whole suite, what .ci/run runs: lint and types, then every test on SQLite AND PostgreSQL, browser and
# process tests included; prints the 25 slowest. GP_TEST_BACKENDS is cleared so a stray one cannot narrow it.
test: lint typecheck
	GP_TEST_BACKENDS= $(BIN)/pytest --durations=25 $(PYTEST_ARGS)

# The inner loop (under two minutes on two cores): lint and types, then the tests not marked `slow`, on SQLite
# only. See CONTRIBUTING.md for the two tiers.
test-fast: lint typecheck
	GP_TEST_BACKENDS=sqlite $(BIN)/pytest -m "not slow" -q $(PYTEST_ARGS)

# Re-take the README's screenshots (docs/screenshots/) from the UI tests, on SQLite.
screenshots: $(STAMP)
	GP_UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/web -q -k sqlite

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
