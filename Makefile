# BeatLM: `make demo` runs the main job, `make test` runs the tests. Both do all set-up first.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.beatlm-setup

.PHONY: setup test test-fast demo lint clean-venv

$(STAMP): scripts/setup_env.sh pyproject.toml requirements/lock.txt requirements/base.txt requirements/dev.txt requirements/no-deps.txt requirements/apt.txt
	PYTHON=$(PYTHON) scripts/setup_env.sh $(VENV)
	touch $@

setup: $(STAMP)

test: setup
	$(VENV)/bin/python -m pytest -q -n auto --dist worksteal --durations=25

test-fast: setup
	$(VENV)/bin/python -m pytest -q -n auto --dist worksteal -m "not slow"

DEMO_PROMPT ?= boom bap beat with dusty piano, 90 bpm
demo: setup
	$(VENV)/bin/beatlm generate "$(DEMO_PROMPT)" --seed 0 --out runs/demo --overwrite

lint: setup
	$(VENV)/bin/ruff check beatlm tests scripts

clean-venv:
	rm -rf $(VENV)
