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

run: models $(DATA)/admin.key ## set up, train and promote all six models, then serve on 127.0.0.1:8000
	@echo "admin API key: $(DATA)/admin.key (readable by you only). Try:"
	@echo "  curl -s -H \"Authorization: Bearer \$$(cat $(DATA)/admin.key)\" http://127.0.0.1:8000/v1/models"
	INSIGHT_WORKERS=$${INSIGHT_WORKERS:-2} $(BIN)/insight serve

# The first run's admin key; order-only, so retraining the models does not make another.
$(DATA)/admin.key: | $(DATA)/models.ready
	$(BIN)/insight keys revoke make-run-admin > /dev/null 2>&1 || true  # its secret file was lost
	$(BIN)/insight keys create --name make-run-admin --scopes admin --secret-file $@

test: install ## set up, then run the whole test suite, on SQLite and on the local PostgreSQL
	INSIGHT_TEST_POSTGRES_URL="$${INSIGHT_TEST_POSTGRES_URL:-$$(sh scripts/test-postgres-url)}" \
	  $(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	sh scripts/ensure-java
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,spark]'
	touch $@

models: $(DATA)/models.ready ## train and promote all six models (once; delete the stamp to redo)

$(DATA)/models.ready: $(VENV)/.installed
	mkdir -p $(DATA)
	$(BIN)/insight db upgrade
	$(BIN)/insight data demands --out $(DATA)/demands.csv
	$(BIN)/insight train demand-classifier --data $(DATA)/demands.csv
	$(BIN)/insight train spam-filter --data $(DATA)/demands.csv
	for model in churn channel-preference occupation content-preference; do \
	  $(BIN)/insight train $$model || exit 1; \
	done
	for model in demand-classifier spam-filter churn channel-preference occupation content-preference; do \
	  $(BIN)/insight models promote $$model --version latest || exit 1; \
	done
	$(BIN)/insight data customers --out $(DATA)/sample-customers --n 1000 --seed 1 --format csv --no-labels
	$(BIN)/insight customers import $(DATA)/sample-customers/customers-00000.csv
	touch $@

bench: models ## our service vs `mlflow models serve` on the same registered versions
	$(BIN)/python -m bench.serving
	$(BIN)/python -m bench.customers
	$(BIN)/python -m bench.capture
	$(BIN)/python -m bench.auth
	$(BIN)/python -m bench.open_inference

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DATA)
