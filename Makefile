# Two commands set everything up on a fresh machine:
#   make demo   a virtual environment, the install, demo data in a SQLite file, then the board
#   make test   the same install, then the whole test suite (starts PostgreSQL when it can)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB ?= $(CURDIR)/.demo/mlops.db

.PHONY: install demo test typecheck lint bench screenshots clean

# compat mode: a plain .pth entry instead of an import hook that costs every `mlops status`
# ~15 ms; compileall: Python reads .pyc files even where PYTHONDONTWRITEBYTECODE is set.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,mlflow]' --config-settings editable_mode=compat
	$(BIN)/python -m compileall -q mlops_tui
	touch $@

install: $(VENV)/.installed

# After the board closes: how to reach `mlops` and the demo data from your own shell.
define AFTER_DEMO

The demo data is in $(DEMO_DB). To go on from your shell:
  source $(VENV)/bin/activate        # or run $(BIN)/mlops directly
  export MLOPS_DB=$(DEMO_DB)
  mlops status                        # mlops opens the board again; mlops --help for the rest
The example model's repository is $(dir $(DEMO_DB))iris-classifier: its README.md takes it
round the loop (build, test, deploy, check, drift, rollback) from the keys.
endef
export AFTER_DEMO

demo: install
	MLOPS_DB=$(DEMO_DB) $(BIN)/mlops demo
	@echo "$$AFTER_DEMO"

test: install
	$(BIN)/python -m compileall -q mlops_tui
	$(BIN)/ruff check mlops_tui tests bench
	$(BIN)/ruff format --check mlops_tui tests bench
	$(BIN)/mypy
	$(BIN)/pytest

# mypy --strict over mlops_tui; the configuration is [tool.mypy] in pyproject.toml
typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m compileall -q mlops_tui
	$(BIN)/python bench/run.py

screenshots: install
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache .mypy_cache .hypothesis
