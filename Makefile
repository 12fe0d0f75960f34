# Two commands on a fresh machine:  `make run` (the whole service)  and  `make test` (the whole suite).
# Everything else here is what those two are made of.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BOT_VENV := .venv-bot
BACKEND_VENV := .venv-backend
BOT_BIN := $(BOT_VENV)/bin
BACKEND_BIN := $(BACKEND_VENV)/bin
MODEL := models/assistant.tar.gz
RASA_DATA := nlu_data dialogue
# The model is retrained only when one of these changed (make compares timestamps; Rasa's own cache under
# .rasa/ then reuses every component whose inputs are unchanged).
TRAINING_INPUTS := config.yml domain.yml $(shell find $(RASA_DATA) -name '*.yml' 2>/dev/null) $(wildcard bot/components/*.py)

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)
# endpoints.yml reads these; launcher/stack.py sets them for `make run`, these defaults serve the other commands.
export ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook
export RASA_EVENTS_DB ?= $(CURDIR)/var/rasa_events.db
export RASA_TRACKER_DB ?= $(CURDIR)/var/rasa_tracker.db
# The action server's token (endpoints.yml `token`): yours when set, else 32 random bytes drawn once per make
# invocation (`:=`, so every command of this run and its sub-makes share it); never a constant in the repository.
ifeq ($(strip $(ACTION_SERVER_TOKEN)),)
ACTION_SERVER_TOKEN := $(shell head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
endif
export ACTION_SERVER_TOKEN

.PHONY: help run test envs migrate model validate lint typecheck docs test-backend test-stories test-actions test-channels \
        test-e2e test-faults browser bench bench-routing bench-rescore bench-churn bench-nlu eval-nlu nlu-review cross-validate lock lock-bot \
        lock-backend clean

# Every target carries a `## description`; `make help` lists them all from this file, so none is forgotten.
help: ## list the targets
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z0-9-]*:[^#]*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------------------------------------------------
# Environments: each is installed from its committed lock file and reinstalled when the lock changes.

$(BOT_VENV)/.installed: requirements/bot.txt scripts/find-python.sh
	@python=$$(scripts/find-python.sh bot) && echo "bot environment: $$python" && \
	if ! $(BOT_BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	  rm -rf $(BOT_VENV) && "$$python" -m venv $(BOT_VENV); fi
	$(BOT_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/bot.txt
	@touch $@

$(BACKEND_VENV)/.installed: requirements/backend.txt scripts/find-python.sh
	@python=$$(scripts/find-python.sh backend) && echo "backend environment: $$python" && \
	if ! $(BACKEND_BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	  rm -rf $(BACKEND_VENV) && "$$python" -m venv $(BACKEND_VENV); fi
	$(BACKEND_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/backend.txt
	@touch $@

envs: $(BOT_VENV)/.installed $(BACKEND_VENV)/.installed ## install both environments from their lock files
# ---------------------------------------------------------------------------------------------------------
# The assistant's model.

$(MODEL): $(TRAINING_INPUTS) | $(BOT_VENV)/.installed
	$(BOT_BIN)/rasa train --data $(RASA_DATA) --config config.yml --domain domain.yml \
	  --out models --fixed-model-name assistant
	@touch $@

model: $(MODEL) ## train the Rasa model when config, domain, data or components changed
# ---------------------------------------------------------------------------------------------------------
# Run.

migrate: $(BACKEND_VENV)/.installed ## apply the database migrations to DATABASE_URL
	$(BACKEND_BIN)/python -m cs_backend migrate

# The learning loop (docs/ASSISTANT.md): the messages the assistant did not understand, as Rasa NLU YAML to label.
nlu-review: $(BACKEND_VENV)/.installed ## export misunderstood messages as NLU YAML to review (var/nlu_review.yml)
	$(BACKEND_BIN)/python -m cs_backend nlu-review-export --out var/nlu_review.yml $(if $(SINCE),--since $(SINCE))

run: envs $(MODEL) migrate ## start cs_backend, the action server, Rasa and the demo website
	$(BACKEND_BIN)/python -m launcher

# ---------------------------------------------------------------------------------------------------------
# Test. Under CI=true the tests that need PostgreSQL or Redis fail instead of skipping when those are absent.

# `rasa data validate`, failing on every warning except the checked Rasa 3.6 false positives (bot/validate_data.py).
validate: $(BOT_VENV)/.installed ## rasa data validate, failing on all but the checked false positives
	$(BOT_BIN)/python -m bot.validate_data

# Static checks. ruff and mypy live in the backend environment; mypy checks the actions against the bot
# environment's packages (--python-executable), with the bot's Python version.
lint: $(BACKEND_VENV)/.installed ## ruff check and ruff format --check over the tree
	$(BACKEND_BIN)/ruff check .
	$(BACKEND_BIN)/ruff format --check .

typecheck: envs ## mypy on cs_backend and the launcher (backend env) and on actions (bot env)
	$(BACKEND_BIN)/mypy cs_backend launcher log_redaction
	$(BACKEND_BIN)/mypy --python-executable $(BOT_BIN)/python --python-version 3.10 actions

# The route and settings tables of docs/ARCHITECTURE.md come from the code (a backend test fails when they differ).
docs: $(BACKEND_VENV)/.installed ## rewrite the generated tables of docs/ARCHITECTURE.md
	$(BACKEND_BIN)/python -m cs_backend docs

test-backend: $(BACKEND_VENV)/.installed ## cs_backend tests (SQLite, PostgreSQL, Redis, RabbitMQ)
	$(BACKEND_BIN)/python -m pytest tests/backend

# `rasa test core`, leaving the conversation's `language` entity out of the entity comparison (bot/story_test.py).
test-stories: $(MODEL) ## Rasa test stories with --fail-on-prediction-errors
	@mkdir -p var
	RASA_EVENTS_DB=$(CURDIR)/var/test-stories-events.db RASA_TRACKER_DB=$(CURDIR)/var/test-stories-tracker.db \
	  $(BOT_BIN)/python -m bot.story_test --model $(MODEL) --stories tests/stories --e2e --fail-on-prediction-errors \
	  --out var/rasa-test-results

test-actions: envs ## action and Rasa-component tests against a running cs_backend (no trained model needed)
	$(BOT_BIN)/python -m pytest tests/actions tests/bot -m "not trained_model"

test-channels: envs $(MODEL) ## the messaging channels on the running Rasa server, against fakes of their APIs
	$(BOT_BIN)/python -m pytest tests/bot -m trained_model

test-e2e: envs $(MODEL) browser ## the whole service: REST, socket.io and the widget in Chromium
	$(BACKEND_BIN)/python -m pytest tests/e2e

# Simulated customers (REST and socket.io) while cs_backend, the action server, Rasa, PostgreSQL and Redis fail
# one at a time (tests/faults/; its own throwaway PostgreSQL and Redis on free ports). About 5 min; last line
# `faults=<n> acknowledged=<n> lost=<n> duplicated=<n>`, failing when a write is lost or duplicated.
test-faults: envs $(MODEL) ## fault injection: nothing a customer was told about is lost or duplicated
	$(BACKEND_BIN)/python -m tests.faults

# The widget test drives the system Chromium (Playwright never downloads a browser here). Under CI=true, as root
# on Debian/Ubuntu, a missing Chromium is installed; elsewhere the browser test skips and says how to get one.
browser: ## install Chromium for the widget test (CI=true, as root, Debian/Ubuntu)
	@if ! command -v chromium >/dev/null 2>&1 && [ "$${CI:-}" = true ] && [ "$$(id -u)" = 0 ] \
	    && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium for the widget test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

test: envs ## the whole suite: lint, types, data, backend, actions, channels, stories, end-to-end, faults
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory validate
	@# The model trains while the backend and action tests, which do not need it, run: two jobs at a time, the
	@# training held to one thread each way so that the tests keep a core (on a fresh clone this saves the ~10
	@# minutes of training; each job's output is printed whole when it ends).
	TF_INTER_OP_PARALLELISM_THREADS=1 TF_INTRA_OP_PARALLELISM_THREADS=1 \
	  $(MAKE) --no-print-directory -j2 --output-sync=target $(MODEL) test-backend test-actions
	$(MAKE) --no-print-directory test-channels
	$(MAKE) --no-print-directory test-stories
	$(MAKE) --no-print-directory test-e2e
	$(MAKE) --no-print-directory test-faults

# ---------------------------------------------------------------------------------------------------------
# Measurements (written to BENCHMARKS.md by the scripts themselves, with the command that produced them).

# About an hour on 2 cores: its baseline trains Rasa's default pipeline on this data (2,433 s on 2026-12-01).
bench: envs $(MODEL) ## measure install, training, startup and memory; write BENCHMARKS.md
	$(BACKEND_BIN)/python -m benchmarks.run_all

# One routing decision with 10,000 queued handoffs and 500 agents, on Redis (REDIS_URL, default the local
# server) and in-process; writes the routing section of BENCHMARKS.md. Last line: route_p99_ms=... (Redis).
bench-routing: $(BACKEND_VENV)/.installed ## time a routing decision (10,000 queued, 500 agents); write BENCHMARKS.md
	$(BACKEND_BIN)/python -m benchmarks.routing

# The trained model on held-out customer messages (nlu_eval/, never trained on): top-1 and fallback per intent;
# writes the eval-nlu section of BENCHMARKS.md. About a minute.
eval-nlu: $(MODEL) ## the model on held-out customer messages (top-1, fallback per intent); write BENCHMARKS.md
	$(BOT_BIN)/python -m benchmarks.eval_nlu

# The health score of 100,000 generated customers (score_batch and top factors); writes the health-rescore
# section of BENCHMARKS.md. Last line: rescore_per_s=... (target 10,000).
bench-rescore: $(BACKEND_VENV)/.installed ## time batch health rescoring (100,000 customers); write BENCHMARKS.md
	$(BACKEND_BIN)/python -m benchmarks.bench_rescore

# The churn model on the IBM Telco file (stratified 5-fold CV, docs/CHURN.md), then bench-rescore's figure;
# writes the churn section of BENCHMARKS.md. Last line: telco_roc_auc=... pr_auc=... f1=... rescore_per_s=...
TELCO_CSV ?= ../shared/data/telco_churn/Telco-Customer-Churn.csv
bench-churn: $(BACKEND_VENV)/.installed ## churn model on Telco (5-fold CV) and health rescoring; write BENCHMARKS.md
	$(BACKEND_BIN)/python -m benchmarks.bench_churn --csv $(TELCO_CSV)

# The NLU pipeline (config.yml, and config.yml plus a dense-feature candidate) trained on the Banking77 and
# CLINC150 train splits and tested on their test splits; writes the bench-nlu section of BENCHMARKS.md. About
# 30 minutes on 2 cores (26 measured). Last line: banking77_acc=... clinc_inscope=... clinc_oos_recall=... train_s=...
# parse_p95_ms=... Runs in var/bench-nlu/venv: the bot environment's packages (a .pth file) plus the candidate's
# (requirements/bench-nlu.txt, --no-deps, hash-checked), so .venv-bot itself is never changed (order-only
# prerequisite: an existing bot environment is used as it is).
NLU_BENCH_DATA ?= ../shared/data
NLU_BENCH_VENV := var/bench-nlu/venv
$(NLU_BENCH_VENV)/.installed: requirements/bench-nlu.txt | $(BOT_VENV)/.installed
	rm -rf $(NLU_BENCH_VENV) && $$(scripts/find-python.sh bot) -m venv $(NLU_BENCH_VENV)
	echo "$$(cd $(BOT_VENV) && pwd -P)/lib/python3.10/site-packages" \
	  > $(NLU_BENCH_VENV)/lib/python3.10/site-packages/bot-venv.pth
	$(NLU_BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
	  -r requirements/bench-nlu.txt
	@touch $@

bench-nlu: $(NLU_BENCH_VENV)/.installed ## NLU pipelines on Banking77 and CLINC150 (about 30 min); write BENCHMARKS.md
	$(NLU_BENCH_VENV)/bin/python -m benchmarks.bench_nlu --data $(NLU_BENCH_DATA)

# 5-fold NLU cross-validation (rasa test nlu --cross-validation, reports in var/cross-validation); writes the
# figures into the cross-validation section of BENCHMARKS.md. About 35 min on 2 busy cores.
cross-validate: $(BOT_VENV)/.installed ## 5-fold NLU cross-validation; write BENCHMARKS.md
	$(BOT_BIN)/python -m benchmarks.cross_validate --folds 5 --out var/cross-validation

# ---------------------------------------------------------------------------------------------------------
# Lock files: regenerate after editing requirements/*.in.

lock: lock-bot lock-backend ## regenerate both lock files
lock-backend: $(BACKEND_VENV)/.installed ## regenerate requirements/backend.txt from backend.in
	$(BACKEND_BIN)/python -m pip install --quiet pip-tools
	$(BACKEND_BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  -o requirements/backend.txt requirements/backend.in
	sed -i '1i # Lock of the backend environment (CPython >= 3.11), generated from requirements/backend.in by `make lock-backend`.' \
	  requirements/backend.txt

lock-bot: ## regenerate requirements/bot.txt from bot.in
	@python=$$(scripts/find-python.sh bot) && rm -rf var/lock-bot-venv && "$$python" -m venv var/lock-bot-venv
	var/lock-bot-venv/bin/pip install --quiet -r requirements/bot.in
	{ echo "# Lock of the bot environment (CPython 3.10), generated from requirements/bot.in by \`make lock-bot\`."; \
	  echo "# Install: make envs (pip install -r requirements/bot.txt into .venv-bot)."; \
	  var/lock-bot-venv/bin/pip freeze --exclude-editable; } > requirements/bot.txt
	rm -rf var/lock-bot-venv

clean: ## remove environments, models and run-time files (not the database)
	rm -rf $(BOT_VENV) $(BACKEND_VENV) models .rasa var/log var/rasa-test-results var/cross-validation
