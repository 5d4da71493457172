# Deep Learning Basics: `make book` builds the site, `make test` runs every check.
# Both create .venv and install everything they need; nothing is installed by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: all install book test test-fast lab bench lint release public browser clean help

all: book

help:
	@echo "make book   - install into .venv and build the book into _build/html"
	@echo "make test   - install, build the book, then run the whole test suite"
	@echo "make lab    - JupyterLab on the chapters"
	@echo "make bench  - NumPy vs PyTorch and grader benchmarks (ratios)"
	@echo "make release - student bundle in dist/"
	@echo "make public DEST=DIR - the public book repository in DIR"

# The course package with its torch extra, and the grader: its own distribution (grader/),
# which the public book repository does not have.
GRADER := $(wildcard grader/pyproject.toml)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml $(GRADER)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --retries 1 --timeout 10 -r requirements-dev.txt \
		-e ".[torch]" $(if $(GRADER),-e ./grader)
	touch $(STAMP)

install: $(STAMP)

# Executes the chapters (cached), builds _build/html strictly (warnings fail),
# checks that no page needs the network, prints _build/pdf/deep-learning-basics.pdf.
# BOOK_ARGS=--no-pdf skips the PDF (see tools/build_book.py --help).
book: install browser
	$(BIN)/python tools/build_book.py --jobs $(JOBS) $(BOOK_ARGS)

# Chromium for the browser tests and the PDF (apt-get when root; else a reason).
browser:
	@$(PYTHON) tools/ensure_chromium.py

# Lint and the unit tests first, so a failing one stops `make test` in
# seconds; then the book (with its PDF); then what needs the built book: the
# browser tests and the offline check, and every chapter notebook re-run by
# nbval (one notebook per worker: --dist loadfile keeps its cells on one kernel).
test: install browser
	$(BIN)/ruff check dlbasics dlbasics_grader tests benchmarks tools
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not browser and not book"
	$(MAKE) book
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "browser or book"
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg chapters solutions exercises

test-fast: install
	$(BIN)/python -m pytest -n $(JOBS) -m "not browser and not book and not slow"

lab: install
	$(BIN)/jupyter lab chapters

bench: install
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/ruff check dlbasics dlbasics_grader tests benchmarks tools

release: install
	$(BIN)/python -m dlbasics_grader.release dist/dlbasics-student

# The public book repository (book, package, student exercises, CI; no solutions, hidden
# exercises, key or grader): make public DEST=../deep-learning-basics
DEST ?= dist/public
public: install
	$(BIN)/python -m dlbasics_grader.release --public $(DEST)

clean:
	rm -rf _build dist .pytest_cache
