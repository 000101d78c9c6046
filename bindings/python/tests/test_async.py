"""asyncio: ask_async resolves on the running loop; timeouts, failures, many at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import stark
from conftest import wait_until


@pytest.mark.asyncio
async def test_ask_async(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: m.value() + 1)
    assert await ref.ask_async(1) == 2
    assert await ref.ask_async(b"\x05", raw=False) == 6
    assert [await ref.ask_async(i) for i in range(100)] == list(range(1, 101))


@pytest.mark.asyncio
async def test_gather_many(rt: stark.Runtime) -> None:
    refs = [rt.spawn(lambda m, i=i: [i, m.value()]) for i in range(10)]
    results = await asyncio.gather(*[refs[i % 10].ask_async(i) for i in range(500)])
    assert results == [[i % 10, i] for i in range(500)]


@pytest.mark.asyncio
async def test_async_failure(rt: stark.Runtime) -> None:
    def f(msg: stark.Message) -> None:
        raise ZeroDivisionError("async boom")

    ref = rt.spawn(f)
    with pytest.raises(stark.ActorFailed, match="ZeroDivisionError: async boom"):
        await ref.ask_async(None)


@pytest.mark.asyncio
async def test_async_timeout_does_not_block_the_loop(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: (m.defer(), None)[1])  # never answers
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    t = asyncio.create_task(ticker())
    t0 = time.monotonic()
    with pytest.raises(stark.Timeout):
        await ref.ask_async(None, timeout=0.2)
    assert 0.15 < time.monotonic() - t0 < 2
    assert ticks >= 5  # the loop kept running while we waited
    t.cancel()
    with pytest.raises(TimeoutError):  # Timeout is also a TimeoutError
        await ref.ask_async(None, timeout=0.05)


@pytest.mark.asyncio
async def test_slow_actor_with_async_callers(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: (time.sleep(0.02), m.value())[1])
    results = await asyncio.gather(*[ref.ask_async(i) for i in range(10)])
    assert results == list(range(10))


@pytest.mark.asyncio
async def test_async_and_sync_callers_together(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: m.value())
    stop = threading.Event()
    sync_done = []

    def sync_caller() -> None:
        n = 0
        while not stop.is_set():
            assert ref.ask(n) == n
            n += 1
        sync_done.append(n)

    th = threading.Thread(target=sync_caller)
    th.start()
    try:
        for i in range(300):
            assert await ref.ask_async(i) == i
    finally:
        stop.set()
        th.join()
    assert sync_done and sync_done[0] > 0


@pytest.mark.asyncio
async def test_async_ask_to_wasm(rt: stark.Runtime) -> None:
    from conftest import wasm

    m = rt.load_wasm(wasm("counter-c"))
    c = rt.spawn_wasm(m, init=10)
    assert await c.ask_async(5, tag=1) == 15
    with pytest.raises(stark.ActorFailed):
        await c.ask_async("not an int", tag=1)
    assert wait_until(lambda: c.is_alive())
