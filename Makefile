# make demo | make test | make test-wheel | make test-cpython | make bench | make lint | make typecheck | make ext (rebuild the C
# extension in place)
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.framead-installed
EXTRAS := test,torch,jax,scipy,bench
PYTEST_ARGS ?=

.PHONY: demo test test-wheel test-cpython bench lint typecheck ext setup clean

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(VPY) pyproject.toml setup.py
	$(VPY) -m pip install -q numpy bytecode
	$(VPY) -m pip install -q --no-build-isolation -e '.[$(EXTRAS)]'
	touch $(STAMP)

setup: $(STAMP)

ext: $(STAMP)
	$(VPY) setup.py -q build_ext --inplace

demo: ext
	$(VPY) examples/demo.py

test: ext
	$(VENV)/bin/pytest tests
	# the mutation fuzzer again, every gradient from a cached trace's replay
	FRAMEAD_TEST_ENGINE=framead-cached FRAMEAD_FUZZ_EXAMPLES=300 \
		$(VENV)/bin/pytest -q tests/test_mutation_fuzz.py

# The suite against the built wheel, as users install it: the wheel (built from a clean
# build/lib, where a file removed from the source would linger) installed with the same extras
# into a fresh venv in a temp folder; the tests copied there (with benchmarks/, which one test
# drives) and run from there, where `import framead` must be the installed wheel (asserted here
# and by the suite: FRAMEAD_EXPECT_INSTALLED, tests/test_installed_layout.py).
test-wheel: $(STAMP)
	set -eu; tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/framead-wheel.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; \
	rm -rf build/lib.* build/bdist.*; \
	$(VPY) -m pip wheel -q --no-deps --no-build-isolation -w "$$tmp/dist" .; \
	$(PY) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q "$$(ls "$$tmp"/dist/framead-*.whl)[$(EXTRAS)]"; \
	cp -r tests benchmarks "$$tmp/"; find "$$tmp/tests" "$$tmp/benchmarks" -name __pycache__ -prune -exec rm -rf {} +; \
	site=$$("$$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])'); \
	cd "$$tmp"; \
	"$$tmp/venv/bin/python" -c 'import sys, framead, framead.capture._evalframe as e, framead.rules as r; fs = [framead.__file__, e.__file__, r.__file__]; assert all(f.startswith(sys.argv[1] + "/framead/") for f in fs), fs; print("framead from", fs[0])' "$$site"; \
	FRAMEAD_EXPECT_INSTALLED="$$site/framead/" "$$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider \
		--rootdir="$$tmp" $(PYTEST_ARGS) tests

# CPython's own test modules natively and under capture, the whole list (make test runs the
# fast subset): tests/test_cpython_under_capture.py
test-cpython: ext
	FRAMEAD_CPYTHON=all $(VENV)/bin/pytest -q tests/test_cpython_under_capture.py

bench: ext
	$(VPY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check framead capture rules tests examples benchmarks

# mypy on the package as it installs (framead.capture, framead.rules), staged by build_py and
# checked there with pyproject.toml's [tool.mypy] (its overrides list the modules not yet typed)
typecheck: $(STAMP)
	rm -rf build/typecheck
	$(VPY) setup.py -q build_py --build-lib build/typecheck 2>/dev/null
	cd build/typecheck && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml framead

clean:
	rm -rf build $(VENV) capture/*.so *.egg-info
