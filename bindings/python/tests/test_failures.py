"""Exceptions in Python actors: supervised failures, restarts, supervisors with Python children."""

from __future__ import annotations

import threading

import pytest

import stark
from conftest import wait_until


class Fragile:
    """Counts messages; "boom" raises. A fresh instance starts from zero."""

    instances = 0

    def __init__(self) -> None:
        type(self).instances += 1
        self.count = 0

    def receive(self, msg: stark.Message) -> int:
        if msg.value() == "boom":
            raise RuntimeError("fragile exploded")
        self.count += 1
        return self.count


def test_exception_fails_the_ask_with_traceback(rt: stark.Runtime) -> None:
    ref = rt.spawn(Fragile)
    assert ref.ask("a") == 1
    with pytest.raises(stark.ActorFailed) as ei:
        ref.ask("boom")
    reason = ei.value.reason
    assert reason.startswith("RuntimeError: fragile exploded")
    assert "Traceback (most recent call last)" in reason
    assert "in receive" in reason and "test_failures.py" in reason
    assert "_runtime.py" not in reason  # the binding's own frame is left out
    assert ei.value.status == stark.ActorFailed.status


def test_restart_makes_a_fresh_instance(rt: stark.Runtime) -> None:
    Fragile.instances = 0
    ref = rt.spawn(Fragile)
    assert ref.ask("x") == 1 and ref.ask("x") == 2
    with pytest.raises(stark.ActorFailed):
        ref.ask("boom")
    assert ref.ask("x") == 1  # restarted: state reset
    assert Fragile.instances == 2
    assert ref.is_alive()
    m = rt.metrics()
    assert m.failures >= 1 and m.restarts >= 1


def test_failure_is_dead_lettered_with_the_traceback(rt: stark.Runtime) -> None:
    ref = rt.spawn(Fragile)
    ref.send("boom")
    assert wait_until(lambda: any(d.target == ref for d in rt.dead_letters()))
    dl = [d for d in rt.dead_letters() if d.target == ref][-1]
    assert "RuntimeError: fragile exploded" in dl.reason
    assert dl.cause != 0


def test_messages_after_a_failure_reach_the_new_instance(rt: stark.Runtime) -> None:
    seen: list[tuple[int, object]] = []
    made = []

    class A:
        def __init__(self) -> None:
            made.append(1)
            self.gen = len(made)

        def receive(self, msg: stark.Message) -> None:
            v = msg.value()
            if v == "boom":
                raise ValueError("x")
            seen.append((self.gen, v))

    ref = rt.spawn(A)
    for v in [1, 2, "boom", 3, 4]:
        ref.send(v)
    ref.ask(5)
    values = [v for _, v in seen]
    assert values == [1, 2, 3, 4, 5]
    gens = [g for g, _ in seen]
    assert gens == [1, 1, 2, 2, 2]


def test_callable_and_object_actors_survive_failures(rt: stark.Runtime) -> None:
    def f(msg: stark.Message) -> str:
        if msg.value() == "boom":
            raise KeyError("k")
        return "ok"

    ref = rt.spawn(f)
    with pytest.raises(stark.ActorFailed, match="KeyError"):
        ref.ask("boom")
    assert ref.ask("again") == "ok"


def test_constructor_failure(rt: stark.Runtime) -> None:
    attempts = []

    class Broken:
        def __init__(self) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise OSError("no model file")

        def receive(self, msg: stark.Message) -> str:
            return "ready"

    ref = rt.spawn(Broken)
    with pytest.raises(stark.ActorFailed, match="no model file"):
        ref.ask(None)
    assert ref.ask(None) == "ready"  # the restart built a working instance


def test_unencodable_reply(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: object())
    with pytest.raises(TypeError, match="msgpack"):
        ref.ask(None)


class Worker:
    """A supervised child: "crash" raises; "id" answers which instance runs."""

    made = 0

    def __init__(self) -> None:
        Worker.made += 1
        self.me = Worker.made

    def receive(self, msg: stark.Message) -> object:
        if msg.value() == "crash":
            raise RuntimeError("worker crashed")
        return self.me


def test_supervisor_with_python_children(rt: stark.Runtime) -> None:
    sup = rt.supervise(
        [stark.ChildSpec(Worker, name="w1"), stark.ChildSpec(Worker, name="w2")],
        strategy="one_for_one",
        max_restarts=10,
        period=5.0,
    )
    assert sup.is_alive()
    w1 = rt.lookup("w1")
    w2 = rt.lookup("w2")
    first1, first2 = w1.ask("id"), w2.ask("id")
    assert first1 != first2
    with pytest.raises(stark.ActorFailed, match="worker crashed"):
        w1.ask("crash")
    # The supervisor restarts w1 (a new ref, re-registered under its name)
    # with a fresh instance; w2 is untouched (one_for_one).
    assert wait_until(lambda: _lookup_changed(rt, "w1", w1))
    new1 = rt.lookup("w1")
    assert new1.ask("id") != first1
    assert w2.ask("id") == first2


def _lookup_changed(rt: stark.Runtime, name: str, old: stark.ActorRef) -> bool:
    try:
        ref = rt.lookup(name)
        return ref != old or ref.ask("id", timeout=0.5) is not None
    except stark.StarkError:
        return False


def test_supervisor_one_for_all(rt: stark.Runtime) -> None:
    rt.supervise([stark.ChildSpec(Worker, name="a1"), stark.ChildSpec(Worker, name="a2")], strategy="one_for_all")
    a1, a2 = rt.lookup("a1"), rt.lookup("a2")
    before = a2.ask("id")
    a1.send("crash")
    # one_for_all: a2 is restarted too (a fresh instance under its name)
    assert wait_until(lambda: _answers_differently(rt, "a2", before))


def _answers_differently(rt: stark.Runtime, name: str, before: object) -> bool:
    try:
        return rt.lookup(name).ask("id", timeout=0.5) != before
    except stark.StarkError:
        return False


def test_supervisor_past_max_restarts(rt: stark.Runtime) -> None:
    sup = rt.supervise([stark.ChildSpec(Worker, name="fragile")], max_restarts=1, period=10.0)
    first = rt.lookup("fragile")
    for _ in range(3):
        before = rt.metrics().restarts
        rt.lookup("fragile").send("crash")
        assert wait_until(lambda before=before: rt.metrics().restarts > before)
    # Past max_restarts the supervisor escalates; the root restarts it and
    # it starts its children again: new refs, fresh instances, same name.
    assert wait_until(lambda: _answers(rt, "fragile"))
    assert rt.lookup("fragile") != first
    assert sup.is_alive()


def _answers(rt: stark.Runtime, name: str) -> bool:
    try:
        return rt.lookup(name).ask("id", timeout=0.5) is not None
    except stark.StarkError:
        return False


def test_supervisor_child_callable_and_unnamed(rt: stark.Runtime) -> None:
    got = threading.Event()

    def child(msg: stark.Message) -> None:
        got.set()

    rt.supervise(
        [child, stark.ChildSpec(Worker, restart="transient")],
        backoff="exponential",
        backoff_min=0.001,
        backoff_max=0.01,
    )
    assert rt.metrics().actors >= 4


def test_supervisor_bad_arguments(rt: stark.Runtime) -> None:
    with pytest.raises(stark.InvalidArgument):
        rt.supervise([Worker], strategy="all_for_none")
    with pytest.raises(stark.InvalidArgument):
        rt.supervise([stark.ChildSpec(Worker, restart="sometimes")])
    with pytest.raises(stark.InvalidArgument):
        rt.supervise([stark.ChildSpec(Worker, name="dup"), stark.ChildSpec(Worker, name="dup")])
    with pytest.raises(TypeError):
        rt.supervise([42])
