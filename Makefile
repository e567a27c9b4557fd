# zarrlake: `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PYO3_PYTHON := $(abspath $(PY))
EXTRAS := test,xarray,virtual,docs
# The API reference and how-to pages (mkdocs.yml), built into a git-ignored directory.
# No -q: with it, mkdocs 1.6 hides the warnings from --strict too, and a broken link passes.
DOCS_DIR := target/site
DOCS_BUILD := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d $(DOCS_DIR)

.PHONY: demo test develop docs lint fmt bench bench-quick clean

$(PY):
	"$$(scripts/find-python312)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.deps: pyproject.toml | $(PY)
	$(PY) -m pip install -q "maturin>=1.9.4,<2"
	touch $@

# Builds the extension once, in release mode, and installs the package editable.
develop: $(VENV)/.deps
	$(VENV)/bin/maturin develop --release -q --extras $(EXTRAS)

demo: develop
	$(VENV)/bin/zarrlake demo

# Debian's chromium, for the browser tests of the Jupyter displays (tests/test_displays_browser.py).
.PHONY: browser
browser:
	scripts/install-chromium

# Rust tests reuse the release build's dependencies (no second debug build). Only the
# core has Rust tests, but `--workspace` resolves features over zarrlake-py's
# dependencies too (pyo3 asks more of syn than the core does), so shared crates get the
# feature sets maturin built them with instead of being rebuilt.
test: develop browser
	cargo test --release --workspace
	$(VENV)/bin/pytest -q tests
	$(DOCS_BUILD)

# `--strict`: a broken link, a missing page or a docstring griffe cannot parse fails the build.
docs: develop
	$(DOCS_BUILD)

lint: develop
	cargo fmt --all --check
	cargo clippy --release --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests benches scripts

fmt:
	cargo fmt --all
	$(VENV)/bin/ruff check --fix python tests benches

-include benches/Makefile.fragment

clean:
	rm -rf target $(VENV) demo-lake
