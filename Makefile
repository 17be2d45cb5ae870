# The two commands a newcomer needs: `make book` and `make test`.
# Everything is installed into .venv from requirements.txt (pinned), so nothing
# depends on what happens to be installed on the machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: book test lab clean lock help

help:
	@echo "make book   build the site into _build/html (warnings are errors)"
	@echo "make test   unit, property, doctest and notebook (nbval) tests"
	@echo "make lab    open the chapters in JupyterLab"
	@echo "make clean  remove the build, the venv and caches"
	@echo "make equations  check every labelled equation of the book against softmax_lib (seconds)"

# The venv is rebuilt whenever the pins or the package metadata change.
# uv (itself pinned) installs the pinned set in seconds; pip would take a minute.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "Python >= 3.10 is needed, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt
	touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo
	@echo "The site is built. Open: file://$(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest

# Only the machine check of the labelled equations (tools/equations.py); `make test`
# runs it too, through tests/test_equations.py.
.PHONY: equations
equations: $(STAMP)
	$(BIN)/python tools/equations.py

lab: $(STAMP)
	$(BIN)/jupyter lab book/

lock:
	$(BIN)/uv pip compile requirements.in --python-version 3.10 --universal -o requirements.txt
	echo "-e ." >> requirements.txt

clean:
	rm -rf _build $(VENV) .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
