"""Ctrl-C while waiting on an ask raises KeyboardInterrupt promptly, and the runtime keeps working."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import wasm

CHILD = textwrap.dedent(
    """
    import signal, sys, time, stark
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in the background
    mode = sys.argv[1]
    # busy: no dispatcher thread, so the asking (main) thread runs the
    # actor itself and Ctrl-C lands inside its receive.
    with stark.Runtime(workers=2, dispatcher=(mode != "busy")) as rt:
        if mode == "python":
            target = rt.spawn(lambda m: m.defer() and None)      # never answers
        elif mode == "busy":
            target = rt.spawn(lambda m: time.sleep(60))         # runs in the asking thread
        else:
            m = rt.load_wasm(sys.argv[2])
            target = rt.spawn_wasm(m, deadline=1.5)              # tag 1 loops until the deadline
        print("ready", flush=True)
        try:
            target.ask(None, tag=1, timeout=60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        else:
            sys.exit(3)
        ok = rt.spawn(lambda m: m.value() + 1)
        assert ok.ask(1) == 2
        print("still works", flush=True)
        if mode == "wasm":
            target.kill()
        rt.close(timeout=0.5)
    """
)


def _run(mode: str, *extra: str) -> tuple[float, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.communicate(timeout=10)
    time.sleep(0.3)  # well inside the ask
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    line = proc.stdout.readline()
    elapsed = time.monotonic() - t0
    out = proc.stdout.read()  # (communicate() would skip what readline() buffered)
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=30)
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout={line}{out}\nstderr={err}"
    return elapsed, line + out


@pytest.mark.parametrize("mode", ["python", "busy"])
def test_ctrl_c_interrupts_ask(mode: str) -> None:
    elapsed, out = _run(mode)
    assert "interrupted" in out and "still works" in out
    assert elapsed < 1.0, f"KeyboardInterrupt took {elapsed:.2f}s"


def test_ctrl_c_while_asking_wasm() -> None:
    elapsed, out = _run("wasm", str(wasm("c-loop")))
    assert "interrupted" in out and "still works" in out
    assert elapsed < 1.0, f"KeyboardInterrupt took {elapsed:.2f}s"
