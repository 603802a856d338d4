# make demo | make test | make test-wheel | make test-cpython | make bench | make bench-hook |
# make lint | make typecheck | make ext (rebuild the C extension in place)
#
# Any target takes PY=<interpreter>: a version (PY=3.12), a command (PY=python3.13) or a path
# (PY=/usr/bin/python3.12); the default is python3. A version or command is resolved once:
# the interpreter it runs on PATH, else the newest pyenv install that has it
# ($PYENV_ROOT/versions/*/bin/pythonX.Y, since pyenv's shims only run the active version).
# Each interpreter has its own venv: .venv for the default python3, .venv-X.Y for another
# version, so `make test PY=3.12` never touches .venv (the C extensions of different versions,
# capture/_evalframe.cpython-3XX-*.so, live side by side).
PY ?= python3
PYENV_ROOT ?= $(HOME)/.pyenv
_pyname = $(if $(shell echo '$(1)' | grep -xE '[0-9]+\.[0-9]+'),python$(1),$(1))
_resolve = $(shell p='$(call _pyname,$(1))'; case "$$p" in (*/*) echo "$$p";; (*) \
	"$$p" -c 'import sys; print(sys.executable)' 2>/dev/null || \
	ls -d $(PYENV_ROOT)/versions/*/bin/"$$p" 2>/dev/null | sort -V | tail -n 1;; esac)
_version = $(shell '$(1)' -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYBIN := $(call _resolve,$(PY))
PYVER := $(call _version,$(PYBIN))
DEFAULT_PYVER := $(if $(filter python3,$(PY)),$(PYVER),$(call _version,$(call _resolve,python3)))
VENV := $(if $(filter $(DEFAULT_PYVER),$(PYVER)),.venv,.venv-$(or $(PYVER),unknown))
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.framead-installed
# the stamp holds the venv's version: a venv made by another interpreter is refused (venv-ok)
VENV_PYVER := $(if $(wildcard $(STAMP)),$(shell cat $(STAMP)))
# The torch extra pins torch==2.13.0, installed only on the versions listed here: this machine
# holds a CPU wheel for CPython 3.11 (/opt/wheels); on 3.12/3.13 pip would download the
# multi-GB CUDA build. framead's torch tests skip without torch.
TORCH_PYVERS ?= 3.11
comma := ,
EXTRAS := test,jax,scipy,bench$(if $(filter $(PYVER),$(TORCH_PYVERS)),$(comma)torch)
# make test-wheel installs the oldest NumPy and SciPy framead supports (.ci/oldest.txt, the
# minimums in pyproject.toml) on the versions listed here, the newest elsewhere
OLDEST_PYVERS ?= 3.11
OLDEST := $(if $(filter $(PYVER),$(OLDEST_PYVERS)),.ci/oldest.txt)
PYTEST_ARGS ?=
# the suite runs in PYTEST_JOBS processes (pytest-xdist; 0: one process), each test file whole
# in one of them (--dist loadfile: a file's tests share its module state, in order)
PYTEST_JOBS ?= auto
XDIST := $(if $(filter-out 0,$(PYTEST_JOBS)),-n $(PYTEST_JOBS) --maxprocesses 4 --dist loadfile)

.PHONY: demo test test-wheel test-cpython bench bench-hook lint typecheck ext setup venv-ok which-py clean

$(VPY):
	@test -n "$(PYVER)" || { echo "make: no Python interpreter for PY=$(PY) (tried '$(call _pyname,$(PY))' on PATH and $(PYENV_ROOT)/versions/*/bin)" >&2; exit 1; }
	$(PYBIN) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(VPY) pyproject.toml setup.py
	$(VPY) -m pip install -q numpy bytecode
	$(VPY) -m pip install -q --no-build-isolation -e '.[$(EXTRAS)]'
	echo $(PYVER) > $(STAMP)

venv-ok:
	@test -z "$(filter-out $(PYVER),$(VENV_PYVER))" || { echo "make: $(VENV) holds CPython $(VENV_PYVER) but PY=$(PY) is CPython $(or $(PYVER),?): name PY=$(VENV_PYVER) or remove $(VENV)" >&2; exit 1; }

setup: venv-ok $(STAMP)

# what PY resolves to (no venv made); make -s print-VAR prints one variable (.ci/run: PYVER)
print-%:
	@echo '$($*)'

which-py:
	@echo "PY=$(PY) -> $(or $(PYBIN),not found) (CPython $(or $(PYVER),?)), venv $(VENV), extras $(EXTRAS)$(if $(OLDEST), (test-wheel: with $(OLDEST)))"

ext: venv-ok $(STAMP)
	$(VPY) setup.py -q build_ext --inplace

demo: ext
	$(VPY) examples/demo.py

test: ext
	$(VENV)/bin/pytest $(XDIST) tests
	# the mutation fuzzer again, every gradient from a cached trace's replay
	FRAMEAD_TEST_ENGINE=framead-cached FRAMEAD_FUZZ_EXAMPLES=300 \
		$(VENV)/bin/pytest -q $(subst loadfile,load,$(XDIST)) tests/test_mutation_fuzz.py

# The suite against the built wheel, as users install it: the wheel (built from a clean
# build/lib, where a file removed from the source would linger) installed with the extras
# into a fresh venv in a temp folder (with the oldest NumPy/SciPy where OLDEST says, checked by
# tests/test_installed_layout.py through FRAMEAD_EXPECT_DEPS); the tests copied there (with
# benchmarks/, which one test drives) and run from there, where `import framead` must be the
# installed wheel (asserted here and by the suite: FRAMEAD_EXPECT_INSTALLED).
test-wheel: venv-ok $(STAMP)
	set -eu; tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/framead-wheel.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; \
	rm -rf build/lib.* build/bdist.*; \
	$(VPY) -m pip wheel -q --no-deps --no-build-isolation -w "$$tmp/dist" .; \
	$(PYBIN) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q $(if $(OLDEST),-c $(OLDEST)) \
		"$$(ls "$$tmp"/dist/framead-*.whl)[$(EXTRAS)]"; \
	deps="$(if $(OLDEST),$$(grep -v '^#' $(OLDEST) | xargs))"; \
	cp -r tests benchmarks "$$tmp/"; find "$$tmp/tests" "$$tmp/benchmarks" -name __pycache__ -prune -exec rm -rf {} +; \
	site=$$("$$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])'); \
	cd "$$tmp"; \
	"$$tmp/venv/bin/python" -c 'import sys, framead, framead.capture._evalframe as e, framead.rules as r; fs = [framead.__file__, e.__file__, r.__file__]; assert all(f.startswith(sys.argv[1] + "/framead/") for f in fs), fs; print("framead from", fs[0])' "$$site"; \
	"$$tmp/venv/bin/python" -m pip list 2>/dev/null | grep -iE '^(numpy|scipy|jax|torch) ' | xargs echo "with"; \
	FRAMEAD_EXPECT_INSTALLED="$$site/framead/" FRAMEAD_EXPECT_DEPS="$$deps" \
		"$$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider \
		--rootdir="$$tmp" $(XDIST) $(PYTEST_ARGS) tests

# CPython's own test modules natively and under capture, the whole list (make test runs the
# fast subset): tests/test_cpython_under_capture.py
test-cpython: ext
	FRAMEAD_CPYTHON=all $(VENV)/bin/pytest -q tests/test_cpython_under_capture.py

bench: ext
	$(VPY) benchmarks/run.py

# the PEP 523 hook's cost per call and per operation on this interpreter (make bench-hook PY=3.12)
bench-hook: ext
	$(VPY) benchmarks/hook_overhead.py

lint: venv-ok $(STAMP)
	$(VENV)/bin/ruff check framead capture rules tests examples benchmarks

# mypy on the package as it installs (framead.capture, framead.rules), staged by build_py and
# checked there with pyproject.toml's [tool.mypy] (its overrides list the modules not yet typed)
typecheck: venv-ok $(STAMP)
	rm -rf build/typecheck
	$(VPY) setup.py -q build_py --build-lib build/typecheck 2>/dev/null
	cd build/typecheck && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml framead

# build/, the venv of PY and its extensions (make clean PY=3.12: .venv-3.12 and
# capture/_*.cpython-312-*.so; the other versions' venvs and extensions stay)
clean:
	rm -rf build $(VENV) $(if $(PYVER),capture/_evalframe.cpython-$(subst .,,$(PYVER))-*.so capture/_scalar_tape.cpython-$(subst .,,$(PYVER))-*.so) *.egg-info
