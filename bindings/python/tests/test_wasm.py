"""WASM actors from Python: load, spawn with options, ask, failures, supervision, hot upgrade."""

from __future__ import annotations

import pytest

import stark
from conftest import wait_until, wasm


def test_counter(rt: stark.Runtime) -> None:
    m = rt.load_wasm(wasm("counter-c"))
    assert isinstance(m, stark.Module) and "counter-c" in repr(m)
    c = rt.spawn_wasm(m, init=10, memory_pages=4, deadline=0.5)
    assert c.ask(5, tag=1) == 15
    assert c.ask(None, tag=2) == 15
    c.send(1, tag=1)
    assert c.ask(None, tag=2) == 16


def test_load_from_bytes_and_cache(rt: stark.Runtime) -> None:
    path = wasm("counter-c")
    data = path.read_bytes()
    m1 = rt.load_wasm(data, name="counter-bytes")
    m2 = rt.load_wasm(path, trusted=True)
    c = rt.spawn_wasm(m1)
    assert c.ask(3, tag=1) == 3
    t = rt.spawn_wasm(m2, init=b"\x07")  # init as raw bytes: a msgpack 7
    assert t.ask(None, tag=2) == 7
    m1.free()
    assert c.ask(1, tag=1) == 4  # actors keep running a freed module


def test_wasm_failure_is_actor_failed(rt: stark.Runtime) -> None:
    c = rt.spawn_wasm(rt.load_wasm(wasm("counter-c")), init=1)
    with pytest.raises(stark.ActorFailed, match="add wants one msgpack integer"):
        c.ask("not an int", tag=1)
    # restarted by its supervisor (the root): the state starts again from init
    assert c.ask(None, tag=2) == 1


def test_bad_init_and_bad_module(rt: stark.Runtime) -> None:
    m = rt.load_wasm(wasm("counter-c"))
    with pytest.raises(stark.StarkError):
        rt.spawn_wasm(m, init="not an int").ask(None, tag=2, timeout=2)
    with pytest.raises(stark.InvalidArgument):
        rt.load_wasm(wasm("c-missing-handle"))
    with pytest.raises(stark.StarkError):
        rt.load_wasm("/nonexistent/module.wasm")


def test_python_and_wasm_talk(rt: stark.Runtime) -> None:
    counter = rt.spawn_wasm(rt.load_wasm(wasm("counter-c")))

    class Front:
        def receive(self, msg: stark.Message) -> int:
            total: int = counter.ask(msg.value(), tag=1)  # an ask from inside a Python actor
            return total * 10

    f = rt.spawn(Front)
    assert f.ask(2) == 20
    assert f.ask(3) == 50


def test_supervised_wasm_child(rt: stark.Runtime) -> None:
    m = rt.load_wasm(wasm("counter-c"))
    sup = rt.supervise([stark.ChildSpec(m, name="wc", init=100, memory_pages=2)], max_restarts=5)
    wc = rt.lookup("wc")
    assert wc.ask(1, tag=1) == 101
    with pytest.raises(stark.ActorFailed):
        wc.ask(b"", tag=99)
    assert wait_until(lambda: _get(rt) == 100)
    assert sup.is_alive()


def _get(rt: stark.Runtime) -> object:
    try:
        return rt.lookup("wc").ask(None, tag=2, timeout=0.5)
    except stark.StarkError:
        return None


def test_upgrade_carries_state(rt: stark.Runtime) -> None:
    v1 = rt.load_wasm(wasm("upgrade-v1"))
    v2 = rt.load_wasm(wasm("upgrade-v2"))
    a = rt.spawn_wasm(v1)
    for n in (1, 2, 3):
        a.send(n, tag=1)
    assert a.ask(None, tag=2) == {"version": 1, "total": 6, "count": 3}
    rt.upgrade(a, v2, timeout=2)
    assert a.ask(None, tag=2) == {"version": 2, "total": 6, "count": 3}
    bad = rt.load_wasm(wasm("upgrade-v2-badinit"))
    with pytest.raises(stark.StarkError):
        rt.upgrade(a, bad, timeout=2)
    assert a.ask(None, tag=2)["version"] == 2  # the old module kept running


def test_wasm_options(rt: stark.Runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    m = rt.load_wasm(wasm("counter-c"))
    rt.register_wasm("counter", m)
    ref = rt.spawn_wasm(
        m, ro_dirs=[(str(tmp_path), "/data"), f"{tmp_path}:/data2"], env=["HOME"], spawn=["counter"], max_message=1024
    )
    assert ref.ask(1, tag=1) == 1
    with pytest.raises(stark.InvalidArgument):
        rt.spawn_wasm(m, ro_dirs=["no-colon"])
