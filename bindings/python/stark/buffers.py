"""Pooled buffers: runtime memory that numpy and memoryview use without copying.

A :class:`Buffer` *is* the memory: it supports the buffer protocol, so
``numpy.frombuffer(buf, dtype)``, ``buf.memoryview()`` and ``memoryview(buf)``
see the pool's bytes (the address ``stark_buffer_data`` gave) with no copy,
and keep the buffer alive while they exist.

Rules (see the README, "Zero copy"):

- ``ref.send(buf)`` moves the buffer into the message: the receiving actor
  sees the very same memory; the sender's object becomes unusable (its
  methods raise). The memory stays valid for views the sender still holds
  (the library keeps a reference until the sender's object is collected),
  but writing through them races with the receiver: don't.
- ``buf.release()`` (or leaving ``with rt.buffer(n) as buf:``) returns the
  memory at once; views made from the buffer must not be used afterwards,
  as after ``free`` in C. Without an explicit release, the memory returns
  when the last Python reference (the buffer or a view of it) is gone.
- :meth:`Runtime.array` puts a small header (dtype and shape) in front of
  the array data, so a receiving actor rebuilds the array with
  ``msg.array()``; the data address is the same on both sides.
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING, Any

from . import _lib
from .errors import InvalidArgument, NotFound

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._runtime import _Core

_LIVE, _MOVED, _RELEASED = 0, 1, 2

# Array header: b"SKND", ndim (u8), len(dtype.str) (u8), header size (u16),
# dtype.str (16 bytes), then ndim u64 dimensions; padded to 64 bytes.
_MAGIC = b"SKND"
_HEADER_FIXED = 24


def header_size(ndim: int) -> int:
    """Bytes of the array header for ndim dimensions (a multiple of 64)."""
    return 64 * ((_HEADER_FIXED + 8 * ndim + 63) // 64)


class Buffer:
    """A pooled, reference-counted byte buffer of a :class:`~stark.Runtime`.

    Made by :meth:`Runtime.buffer` (or received in a message). It supports
    the buffer protocol (``memoryview(buf)``, ``numpy.frombuffer(buf)``),
    ``len(buf)``, indexing, and is a context manager that releases it on exit.
    """

    __slots__ = ()

    _core: _Core
    _h: int
    _state: int

    # -- properties ---------------------------------------------------------
    @property
    def handle(self) -> int:
        """The ``stark_buffer`` handle (0 once moved or released)."""
        return self._h if self._state == _LIVE else 0

    @property
    def address(self) -> int:
        """The address of the first byte (what ``stark_buffer_data`` returned)."""
        return ctypes.addressof(self)  # type: ignore[arg-type]

    @property
    def nbytes(self) -> int:
        """The buffer's length in bytes."""
        return len(self)  # type: ignore[arg-type]

    @property
    def live(self) -> bool:
        """True until the buffer is sent or released."""
        return self._state == _LIVE

    def _check(self) -> None:
        if self._state != _LIVE:
            what = "was sent (moved into a message)" if self._state == _MOVED else "was released"
            raise NotFound(f"this buffer {what}; it cannot be used any more")

    # -- lifetime -------------------------------------------------------------
    def release(self) -> None:
        """Returns the memory to the pool now.

        Views of the buffer (memoryviews, numpy arrays) must not be used
        afterwards. Releasing twice, or after a send, raises NotFound.
        """
        self._check()
        self._state = _RELEASED  # type: ignore[misc]
        self._drop()

    def _drop(self) -> None:
        h, self._h = self._h, 0  # type: ignore[misc]
        if h:
            core = self._core
            if not core.freed:
                _lib.lib.stark_buffer_release(core.h, h)
            core.buffer_gone()

    def _take_for_send(self) -> int:
        """A reference to move into a message; the buffer becomes unusable.

        The buffer keeps its own reference until it is collected, so views
        of it never point at freed memory.
        """
        self._check()
        core = self._core
        st = _lib.lib.stark_buffer_retain(core.h, self._h)
        if st != _lib.OK:
            from .errors import raise_status

            raise_status(st, core.closed)
        self._state = _MOVED  # type: ignore[misc]
        return self._h

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._state == _LIVE:
            self.release()

    def __del__(self) -> None:
        try:
            self._drop()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def __repr__(self) -> str:
        state = ("live", "moved", "released")[self._state]
        return f"<stark.Buffer {len(self)} bytes at {self.address:#x} ({state})>"  # type: ignore[arg-type]

    def memoryview(self) -> memoryview:
        """A writable byte view (format "B") of the buffer, no copy.

        ``memoryview(buf)`` works too, but ctypes gives it the format "<B",
        which memoryview reads and slices but will not assign to.
        """
        return memoryview(self).cast("B")  # type: ignore[arg-type]

    # -- numpy ------------------------------------------------------------------
    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> np.ndarray:
        """A numpy array over the buffer's memory (no copy)."""
        import numpy as np

        arr = np.frombuffer(self, dtype=dtype, offset=offset)  # type: ignore[call-overload]
        out: np.ndarray = arr if shape is None else arr.reshape(shape)
        return out

    def array(self) -> np.ndarray:
        """The array stored by :meth:`Runtime.array` (header + data), no copy."""
        import numpy as np

        mv = self.memoryview()
        if len(mv) < 64 or bytes(mv[:4]) != _MAGIC:
            raise ValueError("this buffer carries no array header (it was not made by Runtime.array)")
        ndim, dlen = mv[4], mv[5]
        hsize = int.from_bytes(mv[6:8], "little")
        dtype = np.dtype(bytes(mv[8 : 8 + dlen]).decode("ascii"))
        shape = tuple(int.from_bytes(mv[24 + 8 * i : 32 + 8 * i], "little") for i in range(ndim))
        count = 1
        for d in shape:
            count *= d
        out: np.ndarray = np.frombuffer(self, dtype=dtype, count=count, offset=hsize)  # type: ignore[call-overload]
        return out.reshape(shape)


_types: dict[int, type] = {}
_types_lock = threading.Lock()


def _type_for(n: int) -> type:
    t = _types.get(n)
    if t is None:
        with _types_lock:
            t = _types.get(n)
            if t is None:
                if len(_types) > 4096:
                    _types.clear()
                t = type("Buffer", (Buffer, ctypes.c_ubyte * n), {"__slots__": ("_core", "_h", "_state")})
                t.__module__ = "stark"
                _types[n] = t
    return t


def wrap(core: _Core, handle: int, address: int, length: int) -> Buffer:
    """A Buffer object owning one reference (handle) to the memory at address."""
    buf = _type_for(length).from_address(address)  # type: ignore[attr-defined]
    buf._core = core
    buf._h = handle
    buf._state = _LIVE
    core.buffer_born()
    return buf  # type: ignore[no-any-return]


def write_header(buf: Buffer, dtype: Any, shape: tuple[int, ...]) -> int:
    """Writes the array header at the start of buf; returns its size."""
    ds = dtype.str.encode("ascii")
    if len(ds) > 16:
        raise InvalidArgument(f"dtype {dtype} is not supported in pooled arrays")
    hsize = header_size(len(shape))
    mv = buf.memoryview()
    hdr = bytearray(hsize)
    hdr[0:4] = _MAGIC
    hdr[4] = len(shape)
    hdr[5] = len(ds)
    hdr[6:8] = hsize.to_bytes(2, "little")
    hdr[8 : 8 + len(ds)] = ds
    for i, d in enumerate(shape):
        hdr[24 + 8 * i : 32 + 8 * i] = int(d).to_bytes(8, "little")
    mv[:hsize] = hdr
    return hsize


def owner_of(arr: Any) -> Buffer | None:
    """The pooled Buffer whose memory a numpy array views, if any."""
    base = arr
    for _ in range(64):
        base = getattr(base, "base", None)
        if base is None:
            return None
        if isinstance(base, Buffer):
            return base
        if isinstance(base, memoryview):
            obj = base.obj
            return obj if isinstance(obj, Buffer) else None
    return None
