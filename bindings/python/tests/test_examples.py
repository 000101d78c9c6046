"""The examples in examples/python run and exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, WASM_DIR

EXAMPLES = REPO / "examples" / "python"


@pytest.mark.parametrize("name", ["hello", "supervised", "wasm", "numpy_pipeline"])
def test_example(name: str) -> None:
    if name == "wasm" and not (WASM_DIR / "counter-c.wasm").exists():
        pytest.skip("make guests has not run")
    args = [sys.executable, str(EXAMPLES / f"{name}.py")]
    if name == "wasm":
        args.append(str(WASM_DIR))
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip()
