# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark

.PHONY: demo test lint bench sample clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

# pyspark (the spark extra, ~490 MB) for the test suite only, and only where a Java runtime can
# run it; else the Spark tests skip with the reason. `make demo` never needs it.
$(SPARK_STAMP): $(STAMP)
	@if command -v java >/dev/null 2>&1 || { test -n "$$JAVA_HOME" && test -x "$$JAVA_HOME/bin/java"; }; then \
	  echo '$(BIN)/python -m pip install -q -e ".[dev,spark]"  (a Java runtime is here: the Spark tests run)'; \
	  $(BIN)/python -m pip install -q -e ".[dev,spark]"; \
	else \
	  echo '(no Java runtime: pyspark not installed, the Spark tests will skip)'; \
	fi
	@touch $(SPARK_STAMP)

## demo: open the console on a fresh, writable copy of the bundled sample workspace
demo: $(STAMP)
	$(BIN)/mlops-console demo

## test: ruff, the import contracts, and the whole test suite (what CI runs) with the operating
## system's clock a year ahead: the console reads only console.clock, frozen in every test, so a
## test that would pass today but fail next week fails here now (plain `pytest` runs on today's date)
test: $(SPARK_STAMP)
	$(BIN)/ruff check console tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --os-clock-ahead=365

## lint: ruff over the code, and the direction of imports (import-linter contracts in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check console tests
	$(BIN)/lint-imports

## sample: regenerate the bundled sample workspace (deterministic)
sample: $(STAMP)
	$(BIN)/python -m console.samplegen --out sample_data

## bench: the benchmark suite (slow; never run by CI)
bench: $(SPARK_STAMP)
	$(BIN)/python -m tests.benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache
