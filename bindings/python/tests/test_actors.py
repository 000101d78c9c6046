"""Python actors: spawning, asks, sends, replies, names, topics, timers, introspection."""

from __future__ import annotations

import threading
import time

import pytest

import stark
from conftest import wait_until


def test_function_actor_ask(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda msg: msg.value() * 2)
    assert ref.ask(21) == 42
    assert ref.ask(2.5) == 5.0


def test_class_actor_keeps_state(rt: stark.Runtime) -> None:
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def receive(self, msg: stark.Message) -> int:
            self.n += msg.value()
            return self.n

    ref = rt.spawn(Counter)
    assert [ref.ask(i) for i in range(1, 5)] == [1, 3, 6, 10]


def test_object_actor(rt: stark.Runtime) -> None:
    class Box:
        def __init__(self) -> None:
            self.seen: list[object] = []

        def receive(self, msg: stark.Message) -> None:
            self.seen.append(msg.value())

    box = Box()
    ref = rt.spawn(box)
    ref.send({"a": 1})
    ref.send([1, 2, 3])
    assert ref.ask("sync") is None  # None is replied as None
    assert box.seen == [{"a": 1}, [1, 2, 3], "sync"]


def test_values_roundtrip(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: m.value())
    for v in [None, True, 0, -1, 2**63 - 1, 1.5, "héllo", b"raw-in-a-value", [1, "a"], {"k": [1, {"n": None}]}, {1: 2}]:
        if isinstance(v, bytes):
            # bytes travel raw; inside a container they are msgpack bin
            assert ref.ask([v]) == [v]
        else:
            assert ref.ask(v) == v


def test_bytes_are_raw(rt: stark.Runtime) -> None:
    got: list[object] = []

    def actor(msg: stark.Message) -> bytes:
        got.append((type(msg.data), msg.data, msg.tag))
        return msg.data[::-1]

    ref = rt.spawn(actor)
    assert ref.ask(b"abc", tag=7, raw=True) == b"cba"
    assert got == [(bytes, b"abc", 7)]
    assert ref.ask(bytearray(b"xy"), raw=True) == b"yx"
    assert ref.ask(memoryview(b"12"), raw=True) == b"21"


def test_raw_reply_that_is_not_msgpack(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: b"not msgpack \xc1")
    with pytest.raises(ValueError, match="raw=True"):
        ref.ask(1)
    assert ref.ask(1, raw=True) == b"not msgpack \xc1"


def test_message_fields(rt: stark.Runtime) -> None:
    seen: dict[str, object] = {}

    def actor(msg: stark.Message) -> None:
        seen.update(tag=msg.tag, is_ask=msg.is_ask, sender=msg.sender, actor=msg.actor, corr=msg.corr_id)

    ref = rt.spawn(actor)
    ref.ask(b"", tag=5)
    assert seen["tag"] == 5 and seen["is_ask"] is True and seen["actor"] == ref
    assert isinstance(seen["sender"], stark.ActorRef) and seen["corr"] != 0
    assert "tag=5" in repr(stark.Message(rt, 1, 5, b"x", 0, 0, 0, 0))


def test_explicit_reply_and_tag(rt: stark.Runtime) -> None:
    def actor(msg: stark.Message) -> str:
        msg.reply({"ok": True}, tag=9)
        return "ignored: reply() was called"

    ref = rt.spawn(actor)
    assert ref.ask(None) == {"ok": True}


def test_deferred_reply_from_another_thread(rt: stark.Runtime) -> None:
    def actor(msg: stark.Message) -> None:
        m = msg.defer()
        value = msg.value()
        threading.Timer(0.05, lambda: m.reply(value + 1)).start()

    ref = rt.spawn(actor)
    t0 = time.monotonic()
    assert ref.ask(41) == 42
    assert time.monotonic() - t0 >= 0.04


def test_send_between_actors_has_sender(rt: stark.Runtime) -> None:
    log: list[object] = []
    done = threading.Event()

    def pong(msg: stark.Message) -> None:
        assert msg.sender is not None
        msg.sender.send(msg.value() + 1)

    pong_ref = rt.spawn(pong)

    class Ping:
        def receive(self, msg: stark.Message) -> None:
            v = msg.value()
            log.append(v)
            if msg.sender is None:  # the first message, from outside
                pong_ref.send(v)
            elif v >= 5:
                done.set()
            else:
                pong_ref.send(v)

    ping = rt.spawn(Ping)
    ping.send(0)
    assert done.wait(5)
    assert log == [0, 1, 2, 3, 4, 5]


def test_ask_inside_an_actor(rt: stark.Runtime) -> None:
    double = rt.spawn(lambda m: m.value() * 2)
    front = rt.spawn(lambda m: double.ask(m.value()) + 1)
    assert front.ask(20) == 41


def test_many_actors_and_threads(rt: stark.Runtime) -> None:
    refs = [rt.spawn(lambda m, i=i: (i, m.value())) for i in range(50)]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(100):
                i = (k * 7 + j) % len(refs)
                assert refs[i].ask(j) == [i, j]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_messages_keep_order(rt: stark.Runtime) -> None:
    seen: list[int] = []
    ref = rt.spawn(lambda m: seen.append(m.value()))
    for i in range(2000):
        ref.send(i)
    ref.ask(-1)
    assert seen == list(range(2000)) + [-1]


def test_ref_identity(rt: stark.Runtime) -> None:
    a = rt.spawn(lambda m: None, name="ident-a")
    b = rt.lookup("ident-a")
    assert a == b and hash(a) == hash(b) and a is not b
    assert {a: 1}[b] == 1
    assert a != rt.spawn(lambda m: None)
    assert repr(a).startswith("ActorRef(0x") and a.id > 0 and a.runtime is rt
    assert a != "ident-a"


def test_names(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: "named", name="svc")
    assert rt.lookup("svc").ask(None) == "named"
    with pytest.raises(stark.InvalidArgument):
        rt.spawn(lambda m: None, name="svc")
    other = rt.spawn(lambda m: "other")
    rt.register("alias", other)
    assert rt.lookup("alias") == other
    rt.unregister("alias")
    with pytest.raises(stark.NotFound):
        rt.lookup("alias")
    with pytest.raises(stark.NotFound):
        rt.unregister("alias")
    with pytest.raises(LookupError):
        rt.lookup("nobody")
    ref.stop()
    assert wait_until(lambda: not ref.is_alive())
    assert wait_until(lambda: _missing(rt, "svc"))


def _missing(rt: stark.Runtime, name: str) -> bool:
    try:
        rt.lookup(name)
    except stark.NotFound:
        return True
    return False


def test_pubsub(rt: stark.Runtime) -> None:
    got: list[tuple[int, object]] = []
    lock = threading.Lock()

    def sub(i: int):  # type: ignore[no-untyped-def]
        def receive(msg: stark.Message) -> None:
            with lock:
                got.append((i, msg.value()))

        return receive

    refs = [rt.spawn(sub(i)) for i in range(3)]
    for r in refs:
        rt.subscribe("news", r)
    assert rt.publish("news", {"headline": 1}) == 3
    rt.unsubscribe("news", refs[0])
    assert rt.publish("news", "two", tag=3) == 2
    assert rt.publish("nobody-listens", b"x") == 0
    assert wait_until(lambda: len(got) == 5)
    assert sorted(got, key=repr) == sorted(
        [(0, {"headline": 1}), (1, {"headline": 1}), (2, {"headline": 1}), (1, "two"), (2, "two")], key=repr
    )


def test_timers(rt: stark.Runtime) -> None:
    ticks: list[object] = []
    ref = rt.spawn(lambda m: ticks.append(m.value()))
    rt.send_after(0.02, ref, "once")
    t = rt.send_every(0.01, ref, "tick")
    assert wait_until(lambda: ticks.count("tick") >= 3 and "once" in ticks)
    assert t.cancel() is True
    n = len(ticks)
    time.sleep(0.05)
    assert len(ticks) <= n + 1  # one may have been in flight
    assert t.cancel() is False  # already cancelled
    late = rt.send_after(10, ref, "never")
    assert late.cancel() is True


def test_stop_and_kill(rt: stark.Runtime) -> None:
    seen: list[int] = []
    slow = rt.spawn(lambda m: (time.sleep(0.001), seen.append(m.value())))
    for i in range(20):
        slow.send(i)
    slow.stop()  # graceful: what is queued is handled
    assert wait_until(lambda: not slow.is_alive())
    # The actor ends once its queue is handed to Python, which finishes it.
    assert wait_until(lambda: len(seen) == 20)
    assert seen == list(range(20))
    with pytest.raises(stark.NotFound):
        slow.send(1)

    k = rt.spawn(lambda m: time.sleep(0.01))
    for i in range(50):
        k.send(i)
    k.kill()
    assert wait_until(lambda: not k.is_alive())
    assert rt.counters(k).dead_lettered > 0 if _alive_counters(rt, k) else True


def _alive_counters(rt: stark.Runtime, ref: stark.ActorRef) -> bool:
    try:
        rt.counters(ref)
    except stark.NotFound:
        return False
    return True


def test_metrics_counters_dead_letters(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: None)
    for i in range(100):
        ref.send(i)
    ref.ask(None)
    m = rt.metrics()
    assert isinstance(m, stark.Metrics) and m.workers == 2 and m.actors >= 2 and m.processed >= 101
    c = rt.counters(ref)
    assert c == stark.Counters(101, 101, 0, 0) and c.balanced
    total = rt.counters()
    assert total.accepted >= 101 and total.balanced
    ref.stop()
    assert wait_until(lambda: not ref.is_alive())
    with pytest.raises(stark.NotFound):
        ref.send(b"late")
    dl = rt.dead_letters()
    assert dl and isinstance(dl[-1], stark.DeadLetter)
    assert dl[-1].target == ref and dl[-1].cause == stark.NotFound.status and dl[-1].size == 4
    assert dl[-1].cause_name and dl[-1].at > 1e9


def test_mailbox_full(rt: stark.Runtime) -> None:
    gate = threading.Event()
    ref = rt.spawn(lambda m: gate.wait(5), mailbox=4)
    with pytest.raises(stark.MailboxFull):
        for i in range(10_000):
            ref.try_send(i)
    gate.set()
    dropper = rt.spawn(lambda m: time.sleep(0.001), mailbox=2, overflow="drop")
    for i in range(200):
        dropper.send(i)  # never raises: extra messages are dead-lettered
    assert wait_until(lambda: rt.counters(dropper).queued == 0)


def test_async_actor_results_stay_in_order(rt: stark.Runtime) -> None:
    results = [rt.spawn(lambda m, i=i: i).ask(None) for i in range(20)]
    assert results == list(range(20))


def test_no_reentrancy_during_a_nested_ask(rt: stark.Runtime) -> None:
    slow = rt.spawn(lambda m: (time.sleep(0.001), m.value())[1])
    depth = 0
    deepest = 0
    order: list[int] = []

    class A:
        def receive(self, msg: stark.Message) -> None:
            nonlocal depth, deepest
            depth += 1
            deepest = max(deepest, depth)
            try:
                order.append(msg.value())
                assert slow.ask(msg.value()) == msg.value()
            finally:
                depth -= 1

    a = rt.spawn(A)
    for i in range(30):
        a.send(i)
    a.ask(-1)
    assert order == list(range(30)) + [-1]
    assert deepest == 1


@pytest.mark.parametrize(
    "options",
    [
        {"inline_asks": False},
        {"local_replies": False},
        {"inline_asks": False, "local_replies": False, "async_inline": 0},
        {"dispatcher": False},
    ],
)
def test_dispatch_modes(options: dict[str, object]) -> None:
    import asyncio

    with stark.Runtime(workers=2, **options) as r:  # type: ignore[arg-type]
        ref = r.spawn(lambda m: m.value() * 2)
        assert [ref.ask(i) for i in range(200)] == [2 * i for i in range(200)]

        async def go() -> list[int]:
            return list(await asyncio.gather(*[ref.ask_async(i) for i in range(100)]))

        assert asyncio.run(go()) == [2 * i for i in range(100)]
        boom = r.spawn(lambda m: 1 / 0)
        with pytest.raises(stark.ActorFailed, match="ZeroDivisionError"):
            boom.ask(None)


def test_nobody_polls_is_refused() -> None:
    with pytest.raises(stark.InvalidArgument):
        stark.Runtime(dispatcher=False, inline_asks=False)
