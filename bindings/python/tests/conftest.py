"""Shared fixtures: a runtime per test, and where the repository's build outputs are."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import stark

REPO = Path(__file__).resolve().parents[3]
WASM_DIR = Path(os.environ.get("STARK_WASM_DIR", REPO / "build" / "wasm"))


def wasm(name: str) -> Path:
    """The path of a built guest, or skip the test when `make guests` has not run."""
    p = WASM_DIR / f"{name}.wasm"
    if not p.exists():
        pytest.skip(f"{p} is not built (make guests)")
    return p


@pytest.fixture
def rt() -> Iterator[stark.Runtime]:
    """A runtime with two workers, closed after the test."""
    r = stark.Runtime(workers=2, ask_timeout=5.0)
    try:
        yield r
    finally:
        r.close()


def wait_until(pred, timeout: float = 5.0, interval: float = 0.005) -> bool:  # type: ignore[no-untyped-def]
    """Polls pred until it is true or timeout seconds passed."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())
