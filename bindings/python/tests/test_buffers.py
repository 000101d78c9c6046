"""Pooled buffers: zero copy (the actor sees the sender's very memory), lifetimes, limits."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import stark
from conftest import wait_until


def test_buffer_is_a_buffer(rt: stark.Runtime) -> None:
    buf = rt.buffer(64)
    assert isinstance(buf, stark.Buffer) and len(buf) == 64 and buf.nbytes == 64 and buf.live
    mv = buf.memoryview()
    mv[:5] = b"hello"
    assert bytes(memoryview(buf)[:5]) == b"hello"
    assert bytes(buf[:5]) == b"hello"
    arr = np.frombuffer(buf, dtype=np.uint8)
    assert arr.__array_interface__["data"][0] == buf.address
    assert "64 bytes" in repr(buf)
    del arr, mv
    buf.release()
    assert not buf.live and buf.handle == 0
    with pytest.raises(stark.NotFound):
        buf.release()


def test_zero_copy_addresses_are_equal(rt: stark.Runtime) -> None:
    seen: list[tuple[int, float, int]] = []
    done = threading.Event()

    def reader(msg: stark.Message) -> None:
        arr = msg.array()
        seen.append((arr.__array_interface__["data"][0], float(arr.sum()), arr.shape[0]))
        done.set()

    ref = rt.spawn(reader)
    arr = rt.array((1000,), "float32")
    arr[:] = 1.5
    addr = arr.__array_interface__["data"][0]
    ref.send(arr)
    assert done.wait(5)
    assert seen == [(addr, 1500.0, 1000)]


def test_raw_buffer_zero_copy(rt: stark.Runtime) -> None:
    got: list[tuple[int, bytes]] = []
    ref = rt.spawn(lambda m: m.buffer and got.append((m.buffer.address, bytes(m.data[:3]))))
    with rt.buffer(1 << 20) as buf:
        buf.memoryview()[:3] = b"abc"
        addr = buf.address
        ref.send(buf)
        assert not buf.live  # moved into the message
        with pytest.raises(stark.NotFound):
            ref.send(buf)
    ref.ask(None)
    assert got == [(addr, b"abc")]


def test_sent_buffer_views_stay_valid(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: None)
    buf = rt.buffer(4096)
    view = np.frombuffer(buf, dtype=np.uint8)
    view[:] = 7
    ref.send(buf)
    ref.ask(None)
    # The sender's view still points at valid memory (the object holds a reference).
    assert int(view[0]) == 7


def test_pool_returns_to_zero(rt: stark.Runtime) -> None:
    class Summer:
        last = 0.0

        def receive(self, m: stark.Message) -> float:
            if m.buffer is not None:
                self.last = float(m.array().sum())
            return self.last

    ref = rt.spawn(Summer)
    keep = []
    for _ in range(50):
        a = rt.array((256, 256), np.float32)
        a.fill(1)
        ref.send(a)
        keep.append(ref.ask(None))
    assert keep == [256.0 * 256] * 50
    del a
    gc.collect()
    assert wait_until(lambda: rt.metrics().pool_live_bytes == 0), rt.metrics()


def test_pipeline_of_actors(rt: stark.Runtime) -> None:
    addrs: list[int] = []
    result = threading.Event()
    out: list[float] = []

    def sink(msg: stark.Message) -> None:
        a = msg.array()
        addrs.append(a.__array_interface__["data"][0])
        out.append(float(a.sum()))
        result.set()

    s = rt.spawn(sink)

    def scale(msg: stark.Message) -> None:
        a = msg.array()
        addrs.append(a.__array_interface__["data"][0])
        a *= 2  # in place: the same memory travels on
        s.send(a)

    stage = rt.spawn(scale)
    a = rt.array(100, "int64")
    a[:] = np.arange(100)
    addrs.append(a.__array_interface__["data"][0])
    stage.send(a)
    assert result.wait(5)
    assert out == [float(2 * sum(range(100)))]
    assert len(set(addrs)) == 1


def test_numpy_array_not_pooled_is_copied(rt: stark.Runtime) -> None:
    got = []
    ref = rt.spawn(lambda m: m.buffer and got.append(m.array().copy()))
    src = np.arange(12, dtype=np.int16).reshape(3, 4)
    ref.send(src)
    ref.ask(None)
    assert got[0].dtype == np.int16 and (got[0] == src).all()


def test_view_of_pooled_array_is_refused(rt: stark.Runtime) -> None:
    ref = rt.spawn(lambda m: None)
    a = rt.array(10)
    with pytest.raises(stark.InvalidArgument, match="whole array"):
        ref.send(a[2:5])
    ref.send(a)


def test_array_shapes_and_dtypes(rt: stark.Runtime) -> None:
    got = []
    ref = rt.spawn(lambda m: m.buffer and got.append(m.array()))
    for shape, dt in [((), "f8"), ((0,), "u1"), ((2, 3, 4, 5, 6, 7), "c8"), ((5,), "<M8[ns]"), ((3,), ">i4")]:
        a = rt.array(shape, dt)
        ref.send(a)
    ref.ask(None)
    assert [(g.shape, g.dtype) for g in got] == [
        ((), np.dtype("f8")),
        ((0,), np.dtype("u1")),
        ((2, 3, 4, 5, 6, 7), np.dtype("c8")),
        ((5,), np.dtype("<M8[ns]")),
        ((3,), np.dtype(">i4")),
    ]
    with pytest.raises(stark.InvalidArgument):
        rt.array(3, object)


def test_raw_array_interpretation(rt: stark.Runtime) -> None:
    got = []
    ref = rt.spawn(lambda m: m.buffer and got.append(m.array("float64", (2, 2)).tolist()))
    buf = rt.buffer(32)
    buf.numpy("float64")[:] = [1, 2, 3, 4]
    ref.send(buf)
    ref.ask(None)
    assert got == [[[1.0, 2.0], [3.0, 4.0]]]
    with pytest.raises(ValueError, match="no array header"):
        rt.buffer(100).array()


def test_pool_limit(rt: stark.Runtime) -> None:
    with stark.Runtime(workers=1, pool_limit_bytes=1 << 20) as small:
        a = small.buffer(600 << 10)
        with pytest.raises(stark.PoolExhausted):
            small.buffer(600 << 10)
        a.release()
        small.buffer(600 << 10).release()
        with pytest.raises((stark.TooLarge, stark.PoolExhausted)):
            small.buffer(1 << 40)


def test_buffer_reply_and_buffer_ask(rt: stark.Runtime) -> None:
    keep = rt.buffer(8)
    keep.memoryview()[:] = b"12345678"
    ref = rt.spawn(lambda m: keep)
    assert bytes(memoryview(ref.ask(None))) == b"12345678"
    with pytest.raises(TypeError, match="send"):
        ref.ask(rt.buffer(4))


def test_buffers_outlive_the_runtime() -> None:
    r = stark.Runtime(workers=1)
    buf = r.buffer(1 << 16)
    arr = np.frombuffer(buf, dtype=np.uint8)
    arr[:] = 3
    r.close()
    assert int(arr.sum()) == 3 * (1 << 16)  # still valid: the pool waits for the last buffer
    del arr, buf
    gc.collect()


def test_buffer_of_another_runtime(rt: stark.Runtime) -> None:
    with stark.Runtime(workers=1) as other:
        b = other.buffer(8)
        ref = rt.spawn(lambda m: None)
        with pytest.raises(stark.InvalidArgument):
            ref.send(b)
