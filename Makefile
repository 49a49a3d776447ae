# Everything runs in .venv, made on first use from whatever python3 is on PATH.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz typecheck bench-dcap bench-dcap-stages bench-handshake bench-soak bench-pccs bench-startup diff-intel clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[server,redis,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sgxra demo

test: $(STAMP)
	$(BIN)/pytest
	$(BIN)/mypy --strict src
	$(BIN)/ruff check src tests bench

# A longer fuzzing run than `make test`'s (HYPOTHESIS_PROFILE=fuzz: 5000 inputs a target).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_fuzz.py tests/test_fuzz_protocol.py tests/test_fuzz_certs.py --hypothesis-show-statistics

# The benchmark's environment also holds dcap-qvl, the reference it is measured against.
bench-dcap: $(STAMP)
	$(BIN)/pip install --quiet 'dcap-qvl>=0.7'
	$(BIN)/python bench/dcap_bench.py

bench-dcap-stages: $(STAMP)
	$(BIN)/python bench/dcap_stages.py

# The long differential run against Intel's QVL (../shared/tools/intel-qvl) and dcap-qvl: every byte of the real
# quote and CRLs flipped, and more; `make test` runs a seeded sample (tests/test_diff_*.py). About 4 minutes.
diff-intel: $(STAMP)
	$(BIN)/python bench/diff_intel.py

bench-handshake: $(STAMP)
	$(BIN)/python bench/handshake_bench.py

bench-soak: $(STAMP)
	$(BIN)/python bench/soak_bench.py

bench-pccs: $(STAMP)
	$(BIN)/python bench/pccs_bench.py

bench-startup: $(STAMP)
	$(BIN)/python bench/startup_bench.py

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .hypothesis
