"""Bad input and the exception hierarchy: TypeError / InvalidArgument, RuntimeStopped, NotFound, ..."""

from __future__ import annotations

import pytest

import stark
from stark import _lib
from stark.errors import error_for


def test_hierarchy() -> None:
    assert issubclass(stark.InvalidArgument, ValueError)
    assert issubclass(stark.NotFound, LookupError) and stark.StaleRef is stark.NotFound
    assert issubclass(stark.Timeout, TimeoutError)
    assert issubclass(stark.RuntimeStopped, stark.ActorStopped)
    assert issubclass(stark.Denied, PermissionError)
    for cls in (stark.MailboxFull, stark.PoolExhausted, stark.Unsupported, stark.TooLarge, stark.ActorFailed):
        assert issubclass(cls, stark.StarkError)
    for status, cls in [
        (_lib.INVALID, stark.InvalidArgument),
        (_lib.NOT_FOUND, stark.NotFound),
        (_lib.TIMEOUT, stark.Timeout),
        (_lib.FULL, stark.MailboxFull),
        (_lib.EXHAUSTED, stark.PoolExhausted),
        (_lib.STOPPED, stark.ActorStopped),
        (_lib.UNSUPPORTED, stark.Unsupported),
        (_lib.INTERNAL, stark.InternalError),
        (_lib.DENIED, stark.Denied),
        (_lib.TOO_LARGE, stark.TooLarge),
        (_lib.FAILED, stark.ActorFailed),
    ]:
        e = error_for(status, "msg")
        assert type(e) is cls and e.status == status and e.message == "msg" and e.status_name
    assert error_for(99, "odd").status == 99


def test_library_message_is_kept(rt: stark.Runtime) -> None:
    with pytest.raises(stark.NotFound) as ei:
        rt.lookup("no-such-name")
    assert "no-such-name" in str(ei.value) or ei.value.message


def test_wrong_types(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: None)
    with pytest.raises(TypeError):
        ref.send(object())  # not msgpack-encodable
    with pytest.raises(TypeError):
        ref.send(b"x", tag="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ref.ask(b"x", timeout="soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.spawn(42)
    with pytest.raises(TypeError):
        rt.spawn(type("NoReceive", (), {}))
    with pytest.raises(TypeError):
        rt.spawn(lambda m: None, name=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.spawn(lambda m: None, mailbox="big")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.register("x", "not a ref")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.lookup(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.buffer("10")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.load_wasm(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.spawn_wasm("module")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stark.Runtime(workers="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rt.publish("t", rt.buffer(4))


def test_invalid_values(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: None)
    with pytest.raises(stark.InvalidArgument):
        ref.send(b"", tag=-1)
    with pytest.raises(stark.InvalidArgument):
        ref.send(b"", tag=0xFFFFFF00)  # the runtime's tags
    with pytest.raises(stark.InvalidArgument):
        rt.buffer(-1)
    with pytest.raises(stark.InvalidArgument):
        rt.lookup("")
    with pytest.raises(stark.InvalidArgument):
        rt.spawn(lambda m: None, overflow="explode")
    with pytest.raises(stark.InvalidArgument):
        rt.send_every(0, ref, b"")
    with pytest.raises(stark.InvalidArgument):
        rt.send_after(-1, ref, b"")
    with pytest.raises(stark.InvalidArgument):
        stark.Runtime(workers=-1)
    with pytest.raises(stark.InvalidArgument):
        rt.load_wasm(b"definitely not wasm")
    with pytest.raises(ValueError):  # InvalidArgument is a ValueError
        rt.dead_letters(limit=0)


def test_stale_ref(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: None)
    ref.stop()
    from conftest import wait_until

    assert wait_until(lambda: not ref.is_alive())
    with pytest.raises(stark.NotFound):
        ref.send(b"x")
    with pytest.raises(stark.NotFound):
        ref.ask(b"x")
    with pytest.raises(stark.StaleRef):
        ref.stop()
    with pytest.raises(stark.NotFound):
        rt.register("late", ref)


def test_ask_timeout(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: (m.defer(), None)[1])
    with pytest.raises(stark.Timeout):
        ref.ask(None, timeout=0.05)
    with pytest.raises(TimeoutError):
        ref.ask(None, timeout=0.01)


def test_ref_of_another_runtime(rt: stark.Runtime) -> None:
    with stark.Runtime(workers=1) as other:
        foreign = other.spawn(lambda m: None)
        with pytest.raises(stark.InvalidArgument):
            rt.register("foreign", foreign)


def test_closed_runtime() -> None:
    r = stark.Runtime(workers=1)
    ref = r.spawn(lambda m: m.value())
    assert ref.ask(1) == 1
    r.close()
    assert r.closed
    r.close()  # idempotent
    for call in (
        lambda: ref.send(1),
        lambda: ref.ask(1),
        lambda: ref.stop(),
        lambda: r.spawn(lambda m: None),
        lambda: r.buffer(8),
        lambda: r.lookup("x"),
        lambda: r.metrics(),
        lambda: r.counters(),
        lambda: r.dead_letters(),
        lambda: r.publish("t", b""),
        lambda: r.load_wasm(b"\0asm"),
    ):
        with pytest.raises(stark.RuntimeStopped):
            call()
    assert not ref.is_alive()


def test_shutdown_then_metrics() -> None:
    r = stark.Runtime(workers=1)
    ref = r.spawn(lambda m: None)
    ref.ask(None)
    assert r.shutdown(timeout=1.0) is True
    assert r.metrics().processed >= 1  # still readable until close()
    with pytest.raises(stark.RuntimeStopped):
        ref.send(b"")
    r.close()


def test_pending_ask_ends_when_runtime_closes() -> None:
    import threading

    r = stark.Runtime(workers=1)
    ref = r.spawn(lambda m: (m.defer(), None)[1])
    errors: list[BaseException] = []

    def asker() -> None:
        try:
            ref.ask(None, timeout=10)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=asker)
    t.start()
    import time

    time.sleep(0.1)
    r.close()
    t.join(5)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], stark.ActorStopped)


def test_context_manager_closes() -> None:
    with stark.Runtime(workers=1) as r:
        assert not r.closed
    assert r.closed
    with pytest.raises(stark.RuntimeStopped):
        r.spawn(lambda m: None)


def test_close_lets_python_actors_finish_their_queue() -> None:
    import time

    seen: list[int] = []
    r = stark.Runtime(workers=2)
    ref = r.spawn(lambda m: (time.sleep(0.002), seen.append(m.value())))
    for i in range(50):
        ref.send(i)
    r.close(timeout=5)
    assert seen == list(range(50))
