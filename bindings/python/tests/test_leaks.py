"""No leaks: the process's RSS stays flat over 100,000 messages after a warm-up."""

from __future__ import annotations

import gc
import os

import stark


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_flat_over_100k_messages() -> None:
    with stark.Runtime(workers=2) as rt:

        class Echo:
            def receive(self, msg: stark.Message) -> object:
                return msg.data

        ref = rt.spawn(Echo)
        sink = rt.spawn(lambda m: None)
        payload = b"x" * 200

        def round_(n: int) -> None:
            for i in range(n):
                if i % 4 == 0:
                    ref.ask(payload, raw=True)
                elif i % 4 == 1:
                    ref.ask({"i": i, "s": "abc"})
                elif i % 4 == 2:
                    buf = rt.buffer(256)
                    sink.send(buf)
                else:
                    sink.send(payload)
            ref.ask(None)
            sink.send(b"")
            gc.collect()

        round_(20_000)  # warm-up: pools, caches, interned objects settle
        before = rss_bytes()
        round_(100_000)
        after = rss_bytes()
        growth = after - before
        print(f"RSS before {before / 2**20:.1f} MiB, after {after / 2**20:.1f} MiB, growth {growth / 2**10:.0f} KiB")
        m = rt.metrics()
        assert m.pool_live_bytes <= 1024, m
        assert rt.counters().balanced
        assert len(rt._pending) == 0 and len(rt._early) == 0
        # 100k messages: a leak of even 64 bytes each would be 6 MB.
        assert growth < 4 * 2**20, f"RSS grew {growth / 2**20:.1f} MiB over 100k messages"
