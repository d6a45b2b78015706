# Two entry points for a fresh machine with Python >= 3.10 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p results
	$(BIN)/pola reproduce fig1 --out results/fig1.h5 --force
	$(BIN)/pola reproduce fig3 --quick --out results/fig3_quick.h5 --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/exact_ipd.py
	$(BIN)/python bench/kernels.py
	$(BIN)/python bench/update_step.py
	$(BIN)/python bench/profile_step.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
