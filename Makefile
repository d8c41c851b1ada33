# Every target that runs Python depends on `install`, which builds .venv once and again only when
# requirements.txt or pyproject.toml change (the stamp file records that).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the Label Studio server of tests/integration/test_label_studio.py: a virtualenv of its own (its pins clash with ours)
LS_VENV := .venv-label-studio
LS_STAMP := $(LS_VENV)/.installed
KERNEL := sentiment-pipeline
SHARED ?= ../shared/data
RAW := data/raw/sentiment_analysis.csv
PRESET ?= quick
PORT ?= 5000
TRACKING_PORT ?= 5001
LAB_PORT ?= 8888
PER_CYCLE ?= 500
CYCLES ?= 6
ADAPT_DAYS ?= 12
LABEL_ARMS ?= active:100,random:100,random:200
LABEL_SEEDS ?= 1,2

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export WANDB_MODE ?= offline
export TOKENIZERS_PARALLELISM := false
export NO_MKDOCS_2_WARNING := 1

.PHONY: install label-studio data test test-fast lint format docs demo lab replay replay-adapt replay-labels bench-accuracy bench-behaviour bench-inference tracking-server stop clean help

help:
	@echo "make install  create .venv and install everything (idempotent)"
	@echo "make test     run the whole test suite (what CI runs)"
	@echo "make label-studio  the Label Studio server in $(LS_VENV)/ (for its round-trip test; make test does it)"
	@echo "make test-fast  the unit tier only (pytest -m unit: no server, notebook or training; under 3 min)"
	@echo "make data     import SST-2 and the customer reviews into $(RAW) (once; make demo does it)"
	@echo "make demo     import the data if needed, run preprocess -> train ($(PRESET)) -> evaluate, start the API"
	@echo "make lab      JupyterLab on 127.0.0.1:$(LAB_PORT) with the notebooks and the pipeline's kernel"
	@echo "make replay   replay airline tweets into the watchful loop ($(CYCLES) cycles of $(PER_CYCLE))"
	@echo "make replay-adapt  $(ADAPT_DAYS) simulated days of $(PER_CYCLE) tweets through the demo's API; does the loop adapt?"
	@echo "make replay-labels  after make demo: the same days under label budgets, active against random, seeds $(LABEL_SEEDS) (hours)"
	@echo "make bench-accuracy  train quick and full in benchmarks/.work/ and print the accuracy table (~30 min)"
	@echo "make bench-behaviour behavioural pass rates of quick, full and full + the capability lever (~55 min)"
	@echo "make bench-inference trains fast (and its 6-layer teacher), prints sentences/s and accuracy per configuration (~30 min)"
	@echo "make tracking-server  a shared MLflow server on 127.0.0.1:$(TRACKING_PORT) (SQLite in tracking/; see docs/production.md)"
	@echo "make stop     stop the API that make demo started"
	@echo "make lint     ruff check + format check + mypy (sentiment_lib) + the docs built with --strict"
	@echo "make docs     build the docs (docs/, MkDocs) into site/; open site/index.html"
	@echo "make clean    remove generated outputs (keeps .venv and data/raw)"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@# a warning, not a failure: only batch --engine spark (and its tests, which then skip) needs Java
	@java -version >/dev/null 2>&1 || echo "WARNING: Java 17+ is missing; batch --engine spark needs it." \
		"Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17"
	@# the browser tests drive Debian's chromium (Playwright cannot download its own browser here)
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing chromium for the browser tests (apt-get)"; \
			apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
		else \
			echo "WARNING: chromium is missing; the browser tests need it. Run: sudo apt-get install chromium"; \
		fi; }
	@# the deployment tests run Debian's nginx, prometheus/promtool and systemd-analyze (each skips without it)
	@missing=""; for tool in nginx:nginx prometheus:prometheus promtool:prometheus systemd-analyze:systemd; do \
		command -v $${tool%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${tool%%:*} ] || missing="$$missing $${tool#*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing$$missing for the deployment tests (apt-get)"; \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null || { apt-get update -qq && \
				apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }; \
		else \
			echo "WARNING:$$missing missing; the deployment tests skip without them. Run: sudo apt-get install$$missing"; \
		fi; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (sentiment-pipeline)"
	touch $(STAMP)

# Label Studio's server pins Django, numpy<2.3 and dozens more: its own virtualenv keeps them out of .venv. A failed
# install is a warning, not a failure: tests/integration/test_label_studio.py then skips, saying why.
label-studio: $(LS_STAMP)

$(LS_STAMP): requirements-label-studio.txt
	@if { test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV); } && \
		$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip && \
		$(LS_VENV)/bin/python -m pip install --quiet -r requirements-label-studio.txt; then \
		touch $(LS_STAMP); \
	else \
		echo "WARNING: Label Studio could not be installed into $(LS_VENV); its round-trip test skips"; \
	fi

# Two workers, whole files each (a module's fixtures are built once, in one worker): much of the suite
# waits on servers, Spark and subprocesses, so two at once finish well before one after the other.
test: install label-studio
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=30

# The unit tier (tests/<package>/, tests/test_<module>.py, tests/project/): the tiers' folders are marked by
# tests/conftest.py, so -m unit leaves out every test that starts a server, a notebook or a training run.
test-fast: install
	$(BIN)/python -m pytest -m unit -n 2 --durations=10

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mkdocs build --strict --quiet

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Offline (no CDN, no web fonts) and readable from file://; --strict fails on a broken link or anchor.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

# The API serves with SENTIMENT_BACKEND if set, else the back-end measured fastest on this CPU: openvino where
# it multiplies in bfloat16 (AMX; about twice onnx-int8 there), onnx-int8 elsewhere (docs "Measured results").
SERVE_BACKEND = $${SENTIMENT_BACKEND:-$$($(BIN)/python -c \
	'from sentiment_lib.inference.predictor import fastest_backend; print(fastest_backend())')}

demo: install data
	$(BIN)/python runner.py pipeline --preset $(PRESET)
	@$(MAKE) --no-print-directory stop
	SENTIMENT_BACKEND=$(SERVE_BACKEND) $(BIN)/python runner.py serve --background --port $(PORT)

# The default training data: SST-2 (movies) and the customer reviews of ../shared/data/reviews, written whole
# or not at all (a half import would leave a file that later runs take as complete).
data: install
	@if [ ! -f $(RAW) ]; then \
		$(BIN)/python runner.py import-data sst2 --source $(SHARED)/sst2 --output $(RAW).partial --overwrite && \
		$(BIN)/python runner.py import-data reviews --source $(SHARED)/reviews --output $(RAW).partial --append && \
		mv $(RAW).partial $(RAW); \
	elif ! head -1 $(RAW) | grep -q domain; then \
		echo "WARNING: $(RAW) predates domains (SST-2 only?); move it away and run make data for SST-2 + reviews"; \
	fi

# Its own workspace (benchmarks/.work/accuracy): trains quick and full as a user would, then scores them beside
# VADER, TextBlob and TF-IDF + logistic regression. REUSE=1 keeps models already trained there.
bench-accuracy: install
	$(BIN)/python benchmarks/bench_accuracy.py $(if $(REUSE),--reuse)

# The same workspace's models (trained when missing) through the behavioural suite, and full + the lever.
bench-behaviour: install
	$(BIN)/python benchmarks/bench_behaviour.py --lever negation,negated_negative,contrast

# Its own workspace (benchmarks/.work/inference): trains fast as a user would (its teacher is quick's model), then
# times every configuration (HF pipeline, torch, int8 by export recipe; 6 and 3 layers) in a process of its own.
bench-inference: install
	$(BIN)/python benchmarks/bench_inference.py

# Needs a champion (make demo); the first cycle trains one otherwise.
replay: install data
	$(BIN)/python runner.py replay --preset $(PRESET) --source $(SHARED)/airline/Tweets.csv --per-cycle $(PER_CYCLE) --cycles $(CYCLES)

# After make demo (its API on $(PORT) answers the day's tweets): one simulated day per cycle, labels a day late,
# a retrain allowed every 1,000 new labels; the stream's last 2,000 tweets are kept to score the result.
lab: install
	$(BIN)/python -m sentiment_lib.lab --port $(LAB_PORT)

replay-adapt: install
	$(BIN)/python runner.py replay --preset $(PRESET) --source $(SHARED)/airline/Tweets.csv --per-cycle $(PER_CYCLE) \
		--cycles $(ADAPT_DAYS) --hours-per-cycle 24 --serve http://127.0.0.1:$(PORT) --final-holdout 2000 \
		-p min_new_rows 1000 -p feedback_weight 2

# After make demo: each arm (labelling policy and daily budget) and seed replays the same days in a workspace of
# its own (benchmarks/.work/labels/) with an API of its own; a stopped run reads the arms it finished and starts
# the one it stopped in again.
replay-labels: install
	$(BIN)/python benchmarks/bench_labels.py --days $(ADAPT_DAYS) --per-cycle $(PER_CYCLE) --preset $(PRESET) \
		--arms $(LABEL_ARMS) --seeds $(LABEL_SEEDS)

stop:
	@if [ -f logs/app.pid ]; then kill $$(cat logs/app.pid) 2>/dev/null && echo "stopped app.py (pid $$(cat logs/app.pid))"; rm -f logs/app.pid; fi

# In the foreground; TRACKING_BACKEND=postgresql://... for a database several hosts write to.
tracking-server: install
	$(BIN)/python runner.py tracking-server --port $(TRACKING_PORT) $(if $(TRACKING_BACKEND),--backend-store-uri $(TRACKING_BACKEND))

clean:
	rm -rf reports/*/ reports/index.html reports/*.csv reports/*.png data/processed data/reference models wandb mlartifacts mlflow.db outbox logs state
