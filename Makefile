# Set-up and everyday commands. Each target creates .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo test test-slow bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

# The main job: SQuAD fine-tuning + official scoring + export on the embedded demo set.
demo: venv
	$(BIN)/python recipes/squad.py

# The default test suite (CI runs this; < 20 minutes on 2 cores). One pytest worker a
# core (pytest-xdist): most of a test's time is single-threaded Python (tracing, saving
# SavedModels), so two workers on two cores take a little over half the serial time
# (578 vs 1,040 s). Each test class or module runs whole on one worker, so a class's
# setUpClass runs once; at most four workers (each holds its own TensorFlow and thread
# pools).
test: venv
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadscope

# Long tests: real-data training runs, multi-process distribution.
test-slow: venv
	$(BIN)/python -m pytest -q -m slow

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
