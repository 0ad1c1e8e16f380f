# Axon: `make run` serves, `make test` tests; both work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8080

.PHONY: run test image-test bench fuzz models test-models samples browser install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[serve,train,dev]'
	touch $@

# Build every model that has no built version yet in models/, and a model card for every version
# without one (training writes them; this adds them to versions built before cards existed).
models: $(STAMP)
	$(BIN)/python -m training all --missing-only
	$(BIN)/python -m training.cards --missing-only

# Tests also need a ResNet50 (no ImageNet weights are reachable offline): an explicitly random one,
# kept out of models/ so that `make run` never serves it.
test-models: $(STAMP)
	$(BIN)/python -m training resnet50 --weights random --models build/test-models --missing-only

# Real inputs to try the server with, in samples/ (README, "Try it").
samples: $(STAMP)
	$(BIN)/python -m training.samples --out samples

run: models
	PORT=$(PORT) $(BIN)/gunicorn -c service/gunicorn.conf.py 'service.app:create_app()'

test: models test-models browser
	$(BIN)/python -m pytest

# The page's tests drive Debian's headless Chromium (tests/e2e/test_page.py): installed here when missing and we may.
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium chromium-driver; } \
		|| { echo "make test needs chromium: sudo apt-get install chromium chromium-driver"; exit 1; }

# The container image, built and run for real (also part of `make test`).
image-test: models
	$(BIN)/python -m pytest -s -p no:cacheprovider tests/image

# Property-based fuzzing of a real server, each of its 4 strategies for FUZZ_SECONDS (10 minutes in all).
fuzz: models
	FUZZ_SECONDS=$${FUZZ_SECONDS:-150} $(BIN)/python -m pytest -s -p no:cacheprovider tests/e2e/test_fuzz.py

# The load generator is wrk (Debian's package), installed here when missing and we may.
bench: models test-models
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q wrk; } \
		|| { echo "make bench needs wrk: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) models/*/[0-9]*/ build .pytest_cache samples
