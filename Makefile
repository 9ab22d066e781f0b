# One command to run the service, one to run the tests; both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   := $(or $(INSIGHT_DATA_DIR),var)
export INSIGHT_DATA_DIR := $(DATA)
# OpenMP threads in the tree models spin against the service's own threads and against each
# other on a busy 2-core machine (one fit measured 11 s with two threads, 0.7 s with one).
export OMP_NUM_THREADS ?= 1

.PHONY: run test install models bench lint clean

run: models ## set up, train and promote every model, then serve on 127.0.0.1:8000
	$(BIN)/insight serve

test: install ## set up, then run the whole test suite
	$(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

models: $(DATA)/models.ready

$(DATA)/models.ready: $(VENV)/.installed
	mkdir -p $(DATA)
	$(BIN)/insight data demands --out $(DATA)/demands.csv
	$(BIN)/insight train demand-classifier --data $(DATA)/demands.csv
	$(BIN)/insight train spam-filter --data $(DATA)/demands.csv
	$(BIN)/insight models promote demand-classifier --version latest
	$(BIN)/insight models promote spam-filter --version latest
	touch $@

bench: models ## our service vs `mlflow models serve` on the same registered version
	$(BIN)/python -m bench.serving

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DATA)
