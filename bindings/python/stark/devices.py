"""Device backends through the C ABI: list and select a backend, device
memory, copies and the built-in ops (docs/devices.md).

A runtime runs one backend at a time: the built-in ``cpu`` backend or a
plugin (``vulkan``, ``cuda``, ``rocm``, ``metal``) found next to libstark;
``Runtime(device="vulkan")`` or ``$STARK_DEVICE`` forces one, otherwise
the best score wins (a real GPU beats the cpu). ::

    with stark.Runtime() as rt:
        dev = rt.devices
        a = dev.upload(np.arange(6, dtype=np.float32).reshape(2, 3))
        b = dev.upload(np.ones((3, 2), dtype=np.float32))
        c = dev.alloc(2 * 2 * 4)
        dev.matmul(a, b, c, m=2, n=2, k=3)
        print(c.numpy((2, 2)))

Device buffers are device memory (not host-addressable in general), so
data moves with ``write``/``read``; they are released deterministically
(``release()`` or ``with``) and go stale when the backend is swapped.
"""

from __future__ import annotations

import ctypes
import dataclasses
from ctypes import byref, c_size_t, c_uint32, c_uint64, sizeof
from typing import TYPE_CHECKING, Any

from . import _lib
from ._lib import lib
from .errors import InvalidArgument, raise_status

if TYPE_CHECKING:
    from ._runtime import Runtime

# Op kinds and dtypes of abi/stark_device.h.
FILL, COPY, SCALE, AXPY, ADD, MUL, RELU, MATMUL, REDUCE_SUM, REDUCE_MAX, SOFTMAX = range(1, 12)
F32 = 0
DEVICE_TYPES = {0: "other", 1: "cpu", 2: "integrated-gpu", 3: "discrete-gpu", 4: "virtual"}


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """A backend the runtime can run: its score (0: cannot run here, see
    ``error``), where it was found, and whether it is the current one."""

    name: str
    path: str
    score: int
    current: bool
    error: str


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """One device of the current backend."""

    index: int
    name: str
    vendor: str
    type: str
    memory_total: int
    memory_free: int
    max_alloc: int
    max_binding: int
    compute_units: int


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


class DeviceBuffer:
    """Device memory of the runtime's current backend (``Devices.alloc``).

    Released once, by ``release()`` or at the end of a ``with`` block (or,
    as a fallback, when collected); stale after a backend swap.
    """

    def __init__(self, devices: Devices, handle: int, nbytes: int, device: int) -> None:
        self._devices = devices
        self._h = handle
        self.nbytes = nbytes
        self.device = device

    @property
    def handle(self) -> int:
        """The stark_dbuf handle (0 once released)."""
        return self._h

    def _handle(self) -> int:
        if not self._h:
            raise InvalidArgument("the device buffer was released")
        return self._h

    def write(self, data: Any, offset: int = 0) -> None:
        """Copies bytes (or anything with the buffer protocol, e.g. a numpy array) to the device at offset."""
        view = memoryview(data).cast("B")
        n = view.nbytes
        if n == 0:
            return
        if view.readonly:
            buf = (ctypes.c_char * n).from_buffer_copy(view)
        else:
            buf = (ctypes.c_char * n).from_buffer(view)
        self._devices._check(lib.stark_device_write(self._devices._rt_h(), self._handle(), offset, buf, n))

    def read(self, nbytes: int | None = None, offset: int = 0) -> bytes:
        """Copies nbytes (default: to the end) from the device at offset."""
        if nbytes is None:
            nbytes = self.nbytes - offset
        out = ctypes.create_string_buffer(nbytes)
        if nbytes:
            self._devices._check(lib.stark_device_read(self._devices._rt_h(), self._handle(), offset, out, nbytes))
        return out.raw

    def numpy(self, shape: Any = None, dtype: Any = "float32") -> Any:
        """Reads the buffer into a new numpy array of shape and dtype."""
        import numpy as np

        arr = np.frombuffer(self.read(), dtype=dtype)
        return arr.reshape(shape) if shape is not None else arr

    def release(self) -> None:
        """Gives the memory back (to the backend's caching allocator)."""
        h, self._h = self._h, 0
        if h:
            st = lib.stark_device_release(self._devices._rt._h, h)
            if st not in (_lib.OK, _lib.NOT_FOUND):  # NOT_FOUND: swapped out or runtime freed
                raise_status(st)

    def __enter__(self) -> DeviceBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        if self._h and not self._devices._rt._closing:
            try:
                self.release()
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass

    def __repr__(self) -> str:
        return f"DeviceBuffer({self.nbytes} bytes on device {self.device}, handle={self._h:#x})"


class Devices:
    """The runtime's device backend (``Runtime.devices``)."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def _rt_h(self) -> int:
        return self._rt._alive()

    def _check(self, st: int) -> None:
        if st != _lib.OK:
            raise_status(st, self._rt._closing)

    def backends(self) -> list[BackendInfo]:
        """Every backend found (the cpu backend always), best score first."""
        items = (_lib.BackendInfo * 16)()
        items[0].struct_size = sizeof(_lib.BackendInfo)
        n = c_size_t()
        self._check(lib.stark_device_backends(self._rt_h(), items, 16, byref(n)))
        return [
            BackendInfo(_text(it.name), _text(it.path), it.score, bool(it.current), _text(it.error))
            for it in items[: n.value]
        ]

    def select(self, name: str | None = None) -> None:
        """Runs the backend called name (None: the best score). On failure the
        current backend keeps running; buffers of the old one go stale."""
        self._check(lib.stark_device_select(self._rt_h(), name.encode() if name else None))

    @property
    def backend(self) -> str:
        """The current backend's name (starting it if needed)."""
        buf = ctypes.create_string_buffer(64)
        self._check(lib.stark_device_backend_name(self._rt_h(), buf, 64))
        return _text(buf.raw)

    def list(self) -> list[DeviceInfo]:
        """The current backend's devices."""
        n = c_uint32()
        self._check(lib.stark_device_count(self._rt_h(), byref(n)))
        out = []
        for i in range(n.value):
            info = _lib.DeviceInfo()
            info.struct_size = sizeof(info)
            self._check(lib.stark_device_get_info(self._rt_h(), i, byref(info)))
            out.append(
                DeviceInfo(
                    i, _text(info.name), _text(info.vendor), DEVICE_TYPES.get(info.type, "other"),
                    info.memory_total, info.memory_free, info.max_alloc, info.max_binding, info.compute_units,
                )
            )
        return out

    def alloc(self, nbytes: int, device: int = 0) -> DeviceBuffer:
        """nbytes of device memory (contents unspecified)."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes <= 0:
            raise InvalidArgument(f"nbytes must be a positive int, not {nbytes!r}")
        out = c_uint64()
        self._check(lib.stark_device_alloc(self._rt_h(), device, nbytes, byref(out)))
        return DeviceBuffer(self, out.value, nbytes, device)

    def upload(self, data: Any, device: int = 0) -> DeviceBuffer:
        """A device buffer holding a copy of data (bytes or a numpy array)."""
        view = memoryview(data).cast("B")
        buf = self.alloc(max(view.nbytes, 1), device)
        buf.write(view)
        return buf

    def copy(self, dst: DeviceBuffer, src: DeviceBuffer, nbytes: int, dst_offset: int = 0, src_offset: int = 0) -> None:
        """Copies between two device buffers on the same device."""
        self._check(lib.stark_device_copy(self._rt_h(), dst._handle(), dst_offset, src._handle(), src_offset, nbytes))

    def run(
        self,
        kind: int,
        *,
        a: DeviceBuffer | None = None,
        b: DeviceBuffer | None = None,
        c: DeviceBuffer | None = None,
        m: int = 0,
        n: int = 0,
        k: int = 0,
        lda: int = 0,
        ldb: int = 0,
        ldc: int = 0,
        trans_a: bool = False,
        trans_b: bool = False,
        alpha: float = 1.0,
        beta: float = 0.0,
        offsets: tuple[int, int, int] = (0, 0, 0),
        dtype: int = F32,
    ) -> None:
        """Runs a built-in op (kind: FILL ... SOFTMAX; semantics in abi/stark_device.h), synchronously."""
        op = _lib.DeviceOp()
        op.struct_size = sizeof(op)
        op.kind, op.dtype = kind, dtype
        op.a = a._handle() if a is not None else 0
        op.b = b._handle() if b is not None else 0
        op.c = c._handle() if c is not None else 0
        op.a_offset, op.b_offset, op.c_offset = offsets
        op.m, op.n, op.k, op.lda, op.ldb, op.ldc = m, n, k, lda, ldb, ldc
        op.trans_a, op.trans_b = int(trans_a), int(trans_b)
        op.alpha, op.beta = alpha, beta
        self._check(lib.stark_device_run(self._rt_h(), byref(op)))

    def matmul(
        self, a: DeviceBuffer, b: DeviceBuffer, c: DeviceBuffer, m: int, n: int, k: int,
        alpha: float = 1.0, beta: float = 0.0, trans_a: bool = False, trans_b: bool = False,
    ) -> None:
        """C (m x n) = alpha * op(A) * op(B) + beta * C, f32, row-major."""
        self.run(MATMUL, a=a, b=b, c=c, m=m, n=n, k=k, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)

    def add(self, a: DeviceBuffer, b: DeviceBuffer, c: DeviceBuffer, n: int) -> None:
        """c[i] = a[i] + b[i] for n f32 elements."""
        self.run(ADD, a=a, b=b, c=c, n=n)

    def relu(self, a: DeviceBuffer, c: DeviceBuffer, n: int) -> None:
        """c[i] = max(a[i], 0)."""
        self.run(RELU, a=a, c=c, n=n)

    def softmax(self, a: DeviceBuffer, c: DeviceBuffer, rows: int, n: int) -> None:
        """Row-wise softmax over rows of n f32 elements."""
        self.run(SOFTMAX, a=a, c=c, m=rows, n=n)

    def reduce_sum(self, a: DeviceBuffer, c: DeviceBuffer, rows: int, n: int) -> None:
        """c[r] = sum of row r (n elements)."""
        self.run(REDUCE_SUM, a=a, c=c, m=rows, n=n)

    def sync(self, device: int = 0) -> None:
        """Waits for everything queued on the device."""
        self._check(lib.stark_device_sync(self._rt_h(), device))
