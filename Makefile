# Two commands on a fresh machine: `make site` (set up + build the site), `make test` (run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# nbgrader starts `alembic` by name: the venv's bin/ must be on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: site setup test test-slow test-cluster pythons release publish chromium sandbox postgres slurm bench bench-engine bench-scale bench-driver bench-build clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

site: setup  ## set everything up, then build the site into _build/html (warnings are errors)
	$(BIN)/jupyter-book build . -W -n --keep-going

setup: $(VENV)/.installed  ## create .venv and install requirements.txt

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

test: setup chromium sandbox postgres  ## run the test suite (it builds the site into a temporary folder and opens it in Chromium)
	$(BIN)/python -m pytest

test-slow: setup chromium sandbox postgres  ## the long runs (pytest -m slow): every chapter's bank of mistakes and accidents graded
	$(BIN)/python -m pytest -m slow

test-cluster: setup sandbox slurm  ## grading on clusters the tests start (pytest -m cluster): a Dask scheduler and two workers as processes, also over TLS; Dask workers as jobs of a single-node Slurm (root), also through its PBS (Torque) wrappers
	$(BIN)/python -m pytest -m cluster

pythons: setup  ## the data loaders and release checks on every supported Python found here (light venvs, no torch)
	$(BIN)/python tests/on_every_python.py

chromium:  ## install Debian's Chromium for the browser test, if it is missing
	@[ -n "$$CHROMIUM" ] || command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "The browser test needs Chromium: run 'apt-get install chromium' as root, or set CHROMIUM=/path/to/it"; exit 1; }

sandbox:  ## install bubblewrap, the grading kernel's sandbox, if it is missing
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || \
	  { echo "Grading runs kernels in bubblewrap: run 'apt-get install bubblewrap' as root"; exit 1; }

postgres:  ## install Debian's PostgreSQL 15 server programs for the gradebook test (it starts its own cluster), if missing
	@[ -x /usr/lib/postgresql/15/bin/initdb ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; } || \
	  { echo "The PostgreSQL gradebook test needs PostgreSQL 15: run 'apt-get install postgresql-15' as root"; exit 1; }

slurm:  ## install Debian's slurm-wlm, munge and slurm-wlm-torque (PBS's qsub/qdel over Slurm) for `make test-cluster`, if missing
	@{ PATH="$$PATH:/usr/sbin"; command -v slurmd && command -v slurmctld && command -v munged && command -v qsub; } >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge slurm-wlm-torque >/dev/null; } || \
	  { echo "The Slurm and PBS tests need Slurm, munge and Slurm's Torque wrappers: run 'apt-get install slurm-wlm munge slurm-wlm-torque' as root"; exit 1; }

publish: site  ## the folder to publish, _build/publish: the site without build reports, after a leak check
	$(BIN)/python -m grader publish --site _build/html --out _build/publish

release: setup  ## regenerate exercises/ from solutions/
	$(BIN)/python -m grader release

bench: setup  ## benchmark grading: seconds per submission with 1 and 2 workers vs raw execution
	$(BIN)/python benchmarks/bench_autograde.py

bench-engine: setup  ## benchmark the engines: local pool vs Dask with the same workers, seconds per submission
	$(BIN)/python benchmarks/bench_engine.py

bench-scale: setup  ## benchmark a whole course: ~1,000 submissions of every assignment, throughput, CPU, peak memory, projection
	$(BIN)/python benchmarks/bench_scale.py

bench-driver: setup  ## benchmark the driver's own work per submission: checks in the driver (before) vs on the workers, status.json rewrites vs its journal
	$(BIN)/python benchmarks/bench_driver.py

bench-build: setup  ## benchmark the site: cold build, no-change rebuild, rebuild after editing one chapter
	$(BIN)/python benchmarks/bench_build.py

clean:  ## remove the built site, the grading working folder and the light venvs of `make pythons`
	rm -rf _build .grading .venv-pythons
