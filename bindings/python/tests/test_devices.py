"""Devices from Python: backends, device memory, ops on the cpu backend
(and on vulkan when its plugin is built next to the library)."""

from __future__ import annotations

import numpy as np
import pytest

import stark
from stark import devices as sd


def test_backends_and_info(rt: stark.Runtime) -> None:
    names = [b.name for b in rt.devices.backends()]
    assert "cpu" in names
    rt.devices.select("cpu")
    assert rt.devices.backend == "cpu"
    infos = rt.devices.list()
    assert infos and infos[0].type == "cpu" and infos[0].memory_total > 0


def test_ops_against_numpy(rt: stark.Runtime) -> None:
    rt.devices.select("cpu")
    rng = np.random.default_rng(7)
    a = rng.uniform(-2, 2, (33, 17)).astype(np.float32)
    b = rng.uniform(-2, 2, (17, 9)).astype(np.float32)
    with rt.devices.upload(a) as da, rt.devices.upload(b) as db, rt.devices.alloc(33 * 9 * 4) as dc:
        dc.write(np.full(33 * 9, np.nan, dtype=np.float32))  # beta 0 must ignore NaN
        rt.devices.matmul(da, db, dc, m=33, n=9, k=17)
        np.testing.assert_allclose(dc.numpy((33, 9)), a @ b, rtol=1e-5, atol=1e-5)
    x = rng.uniform(-1, 1, 1000).astype(np.float32)
    with rt.devices.upload(x) as dx, rt.devices.alloc(4000) as dy:
        rt.devices.relu(dx, dy, 1000)
        np.testing.assert_array_equal(dy.numpy(), np.maximum(x, 0))
        rt.devices.add(dx, dx, dy, 1000)
        np.testing.assert_allclose(dy.numpy(), 2 * x)
        rt.devices.softmax(dx, dy, rows=10, n=100)
        rows = x.reshape(10, 100)
        e = np.exp(rows - rows.max(axis=1, keepdims=True))
        np.testing.assert_allclose(dy.numpy((10, 100)), e / e.sum(axis=1, keepdims=True), rtol=1e-5)
        with rt.devices.alloc(40) as ds:
            rt.devices.reduce_sum(dx, ds, rows=10, n=100)
            np.testing.assert_allclose(ds.numpy(), rows.sum(axis=1), rtol=1e-4)


def test_bad_input(rt: stark.Runtime) -> None:
    with pytest.raises(stark.InvalidArgument):
        rt.devices.alloc(0)
    buf = rt.devices.alloc(64)
    with pytest.raises(stark.InvalidArgument):
        buf.write(b"x" * 65)
    with pytest.raises(stark.InvalidArgument):
        rt.devices.run(sd.MATMUL, a=buf, b=buf, c=buf, m=100, n=100, k=100)
    with pytest.raises(stark.Unsupported):
        rt.devices.run(sd.ADD, a=buf, b=buf, c=buf, n=4, dtype=77)
    with pytest.raises(stark.NotFound):
        rt.devices.select("no-such-backend")
    buf.release()
    with pytest.raises(stark.InvalidArgument):
        buf.read()
    buf.release()  # a second release is a no-op


def test_swap_makes_buffers_stale(rt: stark.Runtime) -> None:
    rt.devices.select("cpu")
    buf = rt.devices.upload(b"abcd")
    rt.devices.select("cpu")
    with pytest.raises(stark.NotFound):
        buf.read()
    buf.release()


def test_vulkan_when_built() -> None:
    from conftest import REPO

    plugins = REPO / "build" / "lib" / "stark"
    if not (plugins / "libstark_vulkan.so").exists():
        pytest.skip(f"{plugins}/libstark_vulkan.so is not built (make plugins)")
    with stark.Runtime(workers=2, backend_path=str(plugins)) as rt:
        vk = [b for b in rt.devices.backends() if b.name == "vulkan"]
        assert vk and vk[0].score > 0, f"vulkan found but unusable: {vk}"
        rt.devices.select("vulkan")
        assert rt.devices.backend == "vulkan"
        x = np.arange(1, 4097, dtype=np.float32)
        with rt.devices.upload(x) as dx, rt.devices.alloc(x.nbytes) as dy:
            rt.devices.add(dx, dx, dy, x.size)
            np.testing.assert_array_equal(dy.numpy(), 2 * x)
