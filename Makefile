# Two commands on a fresh machine: `make site` (set up + build the site), `make test` (run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# nbgrader starts `alembic` by name: the venv's bin/ must be on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: site setup test release bench clean help

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

site: setup  ## set everything up, then build the site into _build/html (warnings are errors)
	$(BIN)/jupyter-book build . -W -n --keep-going

setup: $(VENV)/.installed  ## create .venv and install requirements.txt

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

test: setup  ## run the test suite (builds the site into a temporary folder too)
	$(BIN)/python -m pytest

release: setup  ## regenerate exercises/ from solutions/
	$(BIN)/python -m grader release

bench: setup  ## benchmark grading: seconds per submission with 1 and 2 workers vs raw execution
	$(BIN)/python benchmarks/bench_autograde.py

clean:  ## remove the built site and the grading working folder
	rm -rf _build .grading
