# The two venvs are created on first use (scripts/setup.sh); see README.md.
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: setup run test test-slow test-faults bench bench-scale quality feed feed-unlabelled lint
setup:
	bash scripts/setup.sh

run: setup
	bash scripts/run.sh

test: setup
	$(ENV) bash scripts/test.sh

test-slow: setup
	$(ENV) bash scripts/test.sh -m slow

# the production topology's fault cases (tests/e2e/test_celery_topology.py), after its happy path
test-faults: setup
	$(ENV) bash scripts/test.sh -m "faults or topology"

bench: setup
	$(ENV) cd "$$PROJECT_ROOT" && "$$VENV/bin/python" -m benchmarks

# SIZES=4000,8000 a quick run (default 40000,200000,1000000); RUNS cycles per size; built histories are kept in
# BENCH_SCALE_ROOT (default var/bench-scale) and reused by the next run
bench-scale: setup
	$(ENV) cd "$$PROJECT_ROOT" && "$$VENV/bin/python" -m benchmarks.scale $(if $(SIZES),--sizes $(SIZES)) $(if $(RUNS),--runs $(RUNS)) $(if $(BENCH_SCALE_ROOT),--root "$(BENCH_SCALE_ROOT)")

SCENARIO ?= plain
quality: setup
	$(ENV) cd "$$PROJECT_ROOT" && bash scripts/with_infinity.sh "$$VENV/bin/python" -m lab --scenario $(SCENARIO) $(if $(MAX_BATCHES),--max-batches $(MAX_BATCHES)) $(if $(FLIP_SEEDS),--flip-seeds $(FLIP_SEEDS)) $(if $(POLICIES),--policies $(POLICIES)) $(if $(TEACHING),--teaching-weights $(TEACHING)) $(if $(HOLDOUT),--holdout $(HOLDOUT)) $(if $(SHUFFLES),--shuffles $(SHUFFLES)) $(if $(WORKERS),--workers $(WORKERS))

# the feeds record their asset event as make run's service login (scripts/env.sh: api_connection)
feed: setup
	$(ENV) api_connection && "$$VENV/bin/python" -m tweet_sentiment feed

# SOURCE=Corona_NLP_test.csv (or Corona_NLP_train.csv, or a path) replays another file; ROWS=n a chunk's size
feed-unlabelled: setup
	$(ENV) api_connection && "$$VENV/bin/python" -m tweet_sentiment feed-unlabelled $(if $(SOURCE),--source "$(SOURCE)") $(if $(ROWS),--rows $(ROWS))

lint: setup
	$(ENV) "$$VENV/bin/ruff" check dags include plugins tests benchmarks lab
