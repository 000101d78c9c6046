"""STARK's Python binding vs Ray: 1:1 actor calls and large numpy payloads.

Run by `make bench-python` (which installs ray==2.60.0 into build/venv):

    build/venv/bin/python bench/python/bench_ray.py [--runs 5] [--quick]

Ray runs as a local single-node instance (no cluster, no dashboard; its
own raylet, GCS and two worker processes on this machine), started in a
helper process of this script (the Ray "driver") with

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

so that the driver's background threads do not compete for this process's
GIL (nor STARK's threads for Ray's). This process runs STARK and tells the
helper, over a pipe, which Ray measurement to take, alternating: STARK, Ray,
STARK, Ray, ... run after run. Each figure is the median of the runs
(--runs, default 5) with the range (a payload run's figure is itself the
median of 21 STARK / 7 Ray transfers). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

import stark

# ----------------------------------------------------------------------------
# STARK side


class Echo:
    """The trivial actor of the 1:1 benchmark: returns what it got."""

    def receive(self, msg: stark.Message) -> Any:
        return msg.value()


class Reader:
    """Reads the first and last byte of the array it is sent; asked, says what it read."""

    def __init__(self) -> None:
        self.last = None

    def receive(self, msg: stark.Message) -> Any:
        if msg.buffer is not None:
            a = msg.array()
            self.last = (int(a[0]), int(a[-1]), a.nbytes)
            return None
        return self.last


def stark_sync(ref: stark.ActorRef, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        ref.ask(i)
    return n / (time.perf_counter() - t)


def stark_async(ref: stark.ActorRef, n: int) -> float:
    async def go() -> float:
        t = time.perf_counter()
        for i in range(n):
            await ref.ask_async(i)
        return n / (time.perf_counter() - t)

    return asyncio.run(go())


def stark_payload(rt: stark.Runtime, ref: stark.ActorRef, nbytes: int) -> tuple[float, float]:
    """(seconds to move the array to the actor and have it read, seconds to make the pooled array)."""
    t0 = time.perf_counter()
    arr = rt.array(nbytes, np.uint8)  # the producer writes straight into pooled memory
    t1 = time.perf_counter()
    arr[0], arr[-1] = 7, 9
    t2 = time.perf_counter()
    ref.send(arr)  # moves the buffer: no copy
    got = ref.ask(None)  # the reader has read it (same mailbox, in order)
    t3 = time.perf_counter()
    assert got == [7, 9, nbytes], got
    return t3 - t2, t1 - t0


# ----------------------------------------------------------------------------
# Ray side


def ray_setup() -> tuple[Any, Any, Any]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    @ray.remote
    class RayEcho:
        def f(self, x: Any) -> Any:
            return x

    @ray.remote
    class RayReader:
        def read(self, arr: np.ndarray) -> Any:
            return [int(arr[0]), int(arr[-1]), arr.nbytes]

    echo = RayEcho.remote()
    reader = RayReader.remote()
    ray.get(echo.f.remote(0))
    ray.get(reader.read.remote(np.zeros(8, np.uint8)))
    return ray, echo, reader


def ray_sync(ray: Any, actor: Any, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        ray.get(actor.f.remote(i))
    return n / (time.perf_counter() - t)


def ray_async(actor: Any, n: int) -> float:
    async def go() -> float:
        t = time.perf_counter()
        for i in range(n):
            await actor.f.remote(i)
        return n / (time.perf_counter() - t)

    return asyncio.run(go())


def ray_payload(ray: Any, reader: Any, arr: np.ndarray) -> tuple[float, float]:
    """(seconds passing the array by value: put + call, seconds for a call with an already put ref)."""
    t0 = time.perf_counter()
    got = ray.get(reader.read.remote(arr))  # ray.put of the argument (a copy into the object store) + call
    t1 = time.perf_counter()
    assert got == [7, 9, arr.nbytes], got
    ref = ray.put(arr)
    t2 = time.perf_counter()
    got = ray.get(reader.read.remote(ref))  # the actor maps the stored object: zero copy on its side
    t3 = time.perf_counter()
    assert got == [7, 9, arr.nbytes], got
    return t1 - t0, t3 - t2


def ray_child() -> None:
    """The Ray driver: runs the measurement named on each stdin line, answers one JSON line."""
    import json

    ray, echo, reader = ray_setup()
    arrays: dict[int, np.ndarray] = {}
    print(json.dumps({"ready": ray.__version__}), flush=True)
    for line in sys.stdin:
        cmd, arg = line.split()
        n = int(arg)
        if cmd == "sync":
            out: Any = ray_sync(ray, echo, n)
        elif cmd == "async":
            out = ray_async(echo, n)
        elif cmd == "payload":
            if n not in arrays:
                a = np.zeros(n, np.uint8)
                a[0], a[-1] = 7, 9
                arrays[n] = a
            out = ray_payload(ray, reader, arrays[n])
        else:
            break
        print(json.dumps(out), flush=True)
    ray.shutdown()


class RayDriver:
    """This process's handle on the Ray helper process."""

    def __init__(self) -> None:
        import json
        import subprocess

        self._json = json
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--ray-child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.version = self._read()["ready"]

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the Ray helper process died (see its stderr above)")
        return self._json.loads(line)

    def __call__(self, cmd: str, n: int) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{cmd} {n}\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit 0\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ----------------------------------------------------------------------------


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_rate(xs: list[float]) -> str:
    return f"{med(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"


def fmt_time(xs: list[float]) -> str:
    m = med(xs)
    unit, k = ("ms", 1e3) if m >= 1e-3 else ("µs", 1e6)
    return f"{m * k:,.1f} {unit} ({min(xs) * k:,.1f}-{max(xs) * k:,.1f})"


def main() -> None:
    if "--ray-child" in sys.argv:
        ray_child()
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    ap.add_argument("--quick", action="store_true", help="fewer calls per run (a smoke test)")
    args = ap.parse_args()
    runs = max(args.runs, 1)
    n_stark = 2_000 if args.quick else 20_000
    n_ray = 200 if args.quick else 1_500
    sizes = [1 << 20, 16 << 20, 64 << 20]
    reps_stark = 5 if args.quick else 21
    reps_ray = 3 if args.quick else 7

    driver = RayDriver()
    res: dict[str, list[float]] = {}

    def add(key: str, v: float) -> None:
        res.setdefault(key, []).append(v)

    with (
        stark.Runtime(workers=2, pool_limit_bytes=1 << 30) as rt,
        stark.Runtime(workers=2, inline_asks=False) as rt_disp,
    ):
        echo = rt.spawn(Echo)
        echo_disp = rt_disp.spawn(Echo)
        reader = rt.spawn(Reader)
        # warm-up
        stark_sync(echo, 1000)
        stark_async(echo, 500)
        stark_sync(echo_disp, 1000)
        driver("sync", 100)
        driver("async", 100)
        for n in sizes:
            stark_payload(rt, reader, n)
            driver("payload", n)

        for run in range(runs):
            print(f"run {run + 1}/{runs}", file=sys.stderr, flush=True)
            add("stark_sync", stark_sync(echo, n_stark))
            add("ray_sync", driver("sync", n_ray))
            add("stark_async", stark_async(echo, n_stark // 2))
            add("ray_async", driver("async", n_ray))
            add("stark_sync_disp", stark_sync(echo_disp, n_stark // 2))
            add("stark_async_disp", stark_async(echo_disp, n_stark // 4))
            for n in sizes:
                # each run's figure: the median of several transfers
                s = [stark_payload(rt, reader, n) for _ in range(reps_stark)]
                add(f"stark_move_{n}", med([x[0] for x in s]))
                add(f"stark_alloc_{n}", med([x[1] for x in s]))
                r = [driver("payload", n) for _ in range(reps_ray)]
                add(f"ray_pass_{n}", med([x[0] for x in r]))
                add(f"ray_ref_{n}", med([x[1] for x in r]))

    driver.close()

    print()
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, ray {driver.version}, "
        f"STARK C ABI {stark.abi_version[0]}.{stark.abi_version[1]}; median of {runs} runs (min-max)"
    )
    print()
    print("| 1:1 calls to a trivial Python actor | STARK (calls/s) | Ray (calls/s) | STARK / Ray |")
    print("|---|---|---|---|")
    for label, s, r in [
        ("sync: `ref.ask(i)` vs `ray.get(a.f.remote(i))`", "stark_sync", "ray_sync"),
        ("async: `await ref.ask_async(i)` vs `await a.f.remote(i)`", "stark_async", "ray_async"),
    ]:
        print(f"| {label} | {fmt_rate(res[s])} | {fmt_rate(res[r])} | {med(res[s]) / med(res[r]):.0f}x |")
    for label, s, r in [
        ("sync, dispatcher thread only (`inline_asks=False`)", "stark_sync_disp", "ray_sync"),
        ("async, dispatcher thread only (`inline_asks=False`)", "stark_async_disp", "ray_async"),
    ]:
        print(f"| {label} | {fmt_rate(res[s])} | (as above) | {med(res[s]) / med(res[r]):.0f}x |")
    print()
    print(
        "| numpy array to an actor that reads its first and last byte | STARK: move a pooled array "
        "(send + ask) | STARK: allocate it (`rt.array`) | Ray: pass the array (`a.read.remote(arr)`) "
        "| Ray: pass an `ObjectRef` already `ray.put` |"
    )
    print("|---|---|---|---|---|")
    for n in sizes:
        print(
            f"| {n >> 20} MiB | {fmt_time(res[f'stark_move_{n}'])} | {fmt_time(res[f'stark_alloc_{n}'])} "
            f"| {fmt_time(res[f'ray_pass_{n}'])} | {fmt_time(res[f'ray_ref_{n}'])} |"
        )
    grow = med(res[f"stark_move_{sizes[-1]}"]) / med(res[f"stark_move_{sizes[0]}"])
    print()
    print(f"STARK move time, 64 MiB / 1 MiB: {grow:.2f}x (zero copy: it does not grow with the size)")
    sync_ratio = med(res["stark_sync"]) / med(res["ray_sync"])
    async_ratio = med(res["stark_async"]) / med(res["ray_async"])
    print(f"goal STARK >= 100x Ray: sync {sync_ratio:.0f}x, async {async_ratio:.0f}x")


if __name__ == "__main__":
    main()
