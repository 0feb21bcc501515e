# Two commands from a fresh clone: `make demo` (the main job) and `make test` (the suite).
# Both create .venv on first use and reuse it afterwards.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Use the project's shared MNIST files when they sit beside the clone (as in CI).
ifneq ($(wildcard ../shared/datasets),)
export RECIPES_DATA_DIR ?= $(abspath ../shared/datasets)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 1

.PHONY: demo test check bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m recipes train cnn_mnist --epochs 3 --export out/cnn_mnist

# Two test processes: most tests are single-threaded Python and graph tracing, so two
# processes keep both cores busy (`-n 0` runs them in this one process).
test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2

# The inner loop: every test but those marked slow (training for real, processes).
check: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m "not slow"

bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,bench]"
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) out runs *.egg-info
