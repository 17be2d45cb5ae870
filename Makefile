# The two commands a newcomer needs: `make book` and `make test`.
# Everything is installed into .venv from requirements.txt (pinned), so nothing
# depends on what happens to be installed on the machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: book site test lab clean lock help notebooks pdf

help:
	@echo "make book   re-execute stale chapters, then build the site into _build/html (warnings are errors)"
	@echo "make site   build the site from the stored outputs only (executes nothing)"
	@echo "make test   unit, property, doctest and notebook (nbval) tests; the site, the PDF and JupyterLab in a browser"
	@echo "make test-portable  nbval on two emulated CPUs (.ci/run runs it after make test)"
	@echo "make lab    serve the chapters in JupyterLab on PORT (default 8888), no browser opened"
	@echo "make notebooks  re-execute the chapters whose code or softmax_lib changed"
	@echo "make clean  remove the build, the venv and caches"
	@echo "make bench  time softmax_lib against scipy and torch (a benchmark, not a test)"
	@echo "make equations  check every labelled equation of the book against softmax_lib (seconds)"
	@echo "make pdf    the PDF edition, _build/pdf/$(PDF_NAME) (the site printed by Chromium), also copied into the site"

# The venv is rebuilt whenever the pins or the package metadata change.
# uv (itself pinned) installs the pinned set in seconds; pip would take a minute.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "Python >= 3.10 is needed, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt
	touch $@

# Chapters are stored with their outputs. Before a build, re-execute exactly the
# ones whose code cells, softmax_lib or pins changed since they last ran.
# First, each chapter's install cell is written from _config.yml's repository (tools/install_cell.py).
notebooks: $(STAMP)
	$(BIN)/python tools/install_cell.py book/*.ipynb
	$(BIN)/python tools/execute_notebooks.py --stale book/*.ipynb

# MathJax for the site, pinned in tools/mathjax/package-lock.json and served by the
# site itself (tools/offline_site.py), so formulas typeset offline.
MATHJAX := tools/mathjax/node_modules/mathjax/es5/tex-mml-chtml.js
$(MATHJAX): tools/mathjax/package.json tools/mathjax/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install MathJax for the site: apt-get install -y npm"; exit 1; }
	npm ci --prefix tools/mathjax --no-audit --no-fund --loglevel=error
	touch $@

# axe-core for the accessibility check of the site (tests/test_site.py injects it from
# this local file, so the test needs no network), pinned in tools/axe/package-lock.json.
AXE := tools/axe/node_modules/axe-core/axe.min.js
$(AXE): tools/axe/package.json tools/axe/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install axe-core for the site test: apt-get install -y npm"; exit 1; }
	npm ci --prefix tools/axe --no-audit --no-fund --loglevel=error
	touch $@

# The site from the chapters' stored outputs, never executing them (_config.yml:
# execute_notebooks: off). `make book` first brings stale chapters up to date;
# `make site` alone is what the tests use, so `make test` never rewrites a chapter.
site: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	touch $(SITE_STAMP)
	@echo
	@echo "The site is built. Open: file://$(CURDIR)/_build/html/index.html"

# For people: re-execute what is stale, then build the site (in that order, even under -j).
book: notebooks
	$(MAKE) --no-print-directory site

# The browser test (tests/test_site.py) needs a site no older than its sources: it
# runs `make _build/html/.stamp` in one pytest worker while the others run the notebooks.
# A stale chapter is not re-executed here: tests/test_notebooks_current.py fails naming it.
SITE_STAMP   := _build/html/.stamp
SITE_SOURCES := _config.yml _toc.yml requirements.txt $(wildcard book/* book/images/* softmax_lib/*.py tools/*.py _static/* _templates/*)
$(SITE_STAMP): $(SITE_SOURCES) $(STAMP) $(MATHJAX)
	$(MAKE) --no-print-directory site

# The PDF edition: the built site (stored outputs) assembled into one page and printed
# by Debian's Chromium, as the browser test drives it (tools/pdf_edition.py says how).
# The site's download menu links to the copy at _build/html/$(PDF_NAME).
PDF_NAME := softmax-derivative.pdf
PDF      := _build/pdf/$(PDF_NAME)
pdf: $(PDF)
$(PDF): $(SITE_STAMP) tools/pdf_edition.py
	@test -x /usr/bin/chromium || { echo "make pdf needs Debian's Chromium: apt-get install -y chromium"; exit 1; }
	$(BIN)/python tools/pdf_edition.py --out $@

test: $(STAMP) $(MATHJAX) $(AXE)
	$(BIN)/python -m pytest

# Only the machine check of the labelled equations (tools/equations.py); `make test`
# runs it too, through tests/test_equations.py.
# The PDF edition alone, printed and read back (tests/test_pdf.py; `make test` runs it too).
.PHONY: test-pdf
test-pdf: $(STAMP) $(MATHJAX)
	$(BIN)/python -m pytest -o addopts="-p no:cacheprovider" tests/test_pdf.py

# nbval over every chapter on two emulated CPUs (no AVX-512; baseline dispatch only), the two
# runs at once: the other half of the portability check, whose native run is in `make test`.
# Not in `make test`: with it, a fresh clone's `make test` took 177 s of its 180 s. .ci/run runs it.
.PHONY: test-portable
test-portable: $(STAMP)
	BOOK_NBVAL_CPUS="no-avx512 baseline-only" $(BIN)/python -m pytest -n 0 -o addopts="-p no:cacheprovider" tests/test_portable_outputs.py

.PHONY: equations
equations: $(STAMP)
	$(BIN)/python tools/equations.py

# The chapters in JupyterLab, rendered by jupyterlab-myst (math, references, exercises,
# proofs, computed numbers), on http://localhost:$(PORT)/ without opening a browser: open the
# URL it prints (with its token). `make lab PORT=9999` picks another port; a port in use is
# an error, not a silent move to the next one. JupyterLab refuses to start as root (a
# container, CI) unless told it may.
PORT ?= 8888
lab: $(STAMP)
	$(BIN)/jupyter lab --no-browser --ServerApp.root_dir=book --ServerApp.port=$(PORT) \
	  --ServerApp.port_retries=0 $(if $(filter 0,$(shell id -u)),--allow-root)

lock:
	$(BIN)/uv pip compile requirements.in --python-version 3.10 --universal -o requirements.txt
	echo "-e ." >> requirements.txt

clean:
	rm -rf _build $(VENV) tools/mathjax/node_modules tools/axe/node_modules .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# A benchmark, not a test: softmax_lib against scipy.special.softmax and, when it
# installs, torch on the CPU (bench/bench.py says how it measures).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r bench/requirements.txt
	$(BIN)/python -c "import torch" 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0 \
	  || echo "torch did not install: benchmarking without it"
	$(BIN)/python bench/bench.py --save bench/results.json
