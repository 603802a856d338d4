# make demo | make test | make bench | make lint | make ext (rebuild the C extension in place)
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.framead-installed

.PHONY: demo test bench lint ext setup clean

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(VPY) pyproject.toml setup.py
	$(VPY) -m pip install -q numpy bytecode
	$(VPY) -m pip install -q --no-build-isolation -e '.[test,torch,jax,scipy,bench]'
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

bench: ext
	$(VPY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check framead capture rules tests examples benchmarks

clean:
	rm -rf build $(VENV) capture/*.so *.egg-info
