# The Python package (bindings/python) and its benchmark against Ray.
# Included by the top-level Makefile, which defines GO, LIB, WASM_OUT and the
# targets lib and guests; paths are relative to the repository root.
#
#   make test-python     a virtualenv in $(PY_VENV) (python3 -m venv), the
#                        package pip-installed from ./bindings/python (which
#                        builds libstark.so with $(GO) into the package), plus
#                        pytest, pytest-asyncio, numpy and msgpack from PyPI;
#                        then the tests and the examples
#   make bench-python    the same virtualenv plus ray==$(RAY_VERSION); then
#                        bench/python/bench_ray.py (medians of PY_BENCH_RUNS)
#
#   make test-python PYTEST_FLAGS="-k asyncio -x"
#   make bench-python PY_BENCH_FLAGS=--quick

python_mk_saved_default_goal := $(.DEFAULT_GOAL)

PYTHON         ?= python3
PY_VENV        ?= build/venv
PY_BIN         := $(PY_VENV)/bin
PY_TEST_DEPS   ?= pytest pytest-asyncio numpy msgpack
RAY_VERSION    ?= 2.60.0
PYTEST_FLAGS   ?=
PY_BENCH_RUNS  ?= 5
PY_BENCH_FLAGS ?=
PY_EXAMPLES    := hello supervised wasm numpy_pipeline

.PHONY: python-venv python-install test-python bench-python

$(PY_BIN)/python:
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_BIN)/python -m pip install -q --upgrade pip

python-venv: $(PY_BIN)/python

## python-install: pip-install ./bindings/python (+ test deps) into $(PY_VENV), shipping the libstark.so `make lib` built.
python-install: python-venv lib
	$(PY_BIN)/python -m pip install -q $(PY_TEST_DEPS)
	STARK_PREBUILT_LIB=$(abspath $(LIB)) $(PY_BIN)/python -m pip install -q --force-reinstall --no-deps ./bindings/python

## test-python: the Python package's tests (pytest) and examples, in $(PY_VENV).
test-python: python-install guests
	STARK_WASM_DIR=$(abspath $(WASM_OUT)) $(PY_BIN)/python -m pytest -q -p no:cacheprovider \
		$(PYTEST_FLAGS) bindings/python/tests
	@set -e; for e in $(PY_EXAMPLES); do \
		echo "== examples/python/$$e.py"; \
		case $$e in wasm) $(PY_BIN)/python examples/python/$$e.py $(WASM_OUT);; \
		*) $(PY_BIN)/python examples/python/$$e.py;; esac; \
	done

## bench-python: STARK's Python binding vs Ray $(RAY_VERSION): 1:1 actor calls, large numpy payloads.
bench-python: python-install
	$(PY_BIN)/python -m pip install -q ray==$(RAY_VERSION)
	$(PY_BIN)/python bench/python/bench_ray.py --runs $(PY_BENCH_RUNS) $(PY_BENCH_FLAGS)

.DEFAULT_GOAL := $(python_mk_saved_default_goal)
