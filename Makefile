# Two entry points for a fresh machine with Python >= 3.10 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench lint clean reproduce-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p results
	$(BIN)/pola reproduce fig1 --out results/fig1.h5 --force
	$(BIN)/pola reproduce fig3 --preset quick --out results/fig3_quick.h5 --force
	@echo "POLA-DiCE on the full-history IPD, memory-one policies, 5 updates x 20 outer steps (about 1 min);"
	@echo "random play scores about +0.16 with each other and -0.17 against ALLD."
	$(BIN)/pola train ipd --algo pola-dice --preset quick --policy memory-one --updates 5 \
		--outer-steps 20 --batch-size 2000 --lr-in 0.3 --lr-out 0.04 --inner-beta 3 --outer-beta 10 \
		--seeds 1 --quiet --out results/ipd_pola_demo.h5 --force
	$(BIN)/pola plot results/ipd_pola_demo.h5 -o results/ipd_pola_demo.png --force
	$(BIN)/pola summary results/ipd_pola_demo.h5
	@echo "wrote results/fig1.h5 results/fig1.png results/fig3_quick.h5 results/fig3_quick.png results/ipd_pola_demo.h5 results/ipd_pola_demo.png"

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Every figure at the quick preset (about 2 hours on 2 cores), then the report and its figures into
# docs/reproduction/quick/. An interrupted run continues; delete results/reproduce_quick to start over.
reproduce-quick: $(STAMP)
	$(BIN)/pola reproduce all --preset quick --resume --out results/reproduce_quick
	mkdir -p docs/reproduction/quick
	cp results/reproduce_quick/report.md results/reproduce_quick/*.png docs/reproduction/quick/

bench: $(STAMP)
	$(BIN)/python bench/exact_ipd.py
	$(BIN)/python bench/kernels.py
	$(BIN)/python bench/update_step.py
	$(BIN)/python bench/profile_step.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
