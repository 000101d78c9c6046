"""Loading ``libstark.so`` with ctypes: struct layouts, prototypes, version check.

Everything here mirrors ``abi/stark.h`` exactly. The library is loaded with
:class:`ctypes.CDLL` (never ``PyDLL``): ctypes releases the GIL around every
call, so a thread blocked in ``stark_poll`` lets other Python threads run and
the runtime's own threads never wait for the GIL.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any

#: The ABI this package was written against (abi/stark.h).
ABI_MAJOR = 1
ABI_MINOR = 0

# Statuses (STARK_*).
OK = 0
INVALID = 1
NOT_FOUND = 2
TIMEOUT = 3
FULL = 4
EXHAUSTED = 5
STOPPED = 6
UNSUPPORTED = 7
INTERNAL = 8
DENIED = 9
TOO_LARGE = 10
FAILED = 11

POLL_MESSAGE = 0
POLL_STARTED = 1
POLL_STOPPED = 2

OVERFLOW_FAIL = 0
OVERFLOW_WAIT = 1
OVERFLOW_DROP = 2

PERMANENT = 0
TRANSIENT = 1
TEMPORARY = 2

ONE_FOR_ONE = 0
ONE_FOR_ALL = 1
REST_FOR_ONE = 2

BACKOFF_NONE = 0
BACKOFF_LINEAR = 1
BACKOFF_EXPONENTIAL = 2

WASM_TRUSTED = 1


class Config(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("workers", c_uint32),
        ("mailbox_capacity", c_uint32),
        ("budget", c_uint32),
        ("max_actors", c_uint32),
        ("reserved0", c_uint32),
        ("ask_timeout_ns", c_uint64),
        ("shutdown_timeout_ns", c_uint64),
        ("pool_limit_bytes", c_uint64),
        ("wasm_cache_dir", c_char_p),
        ("wasm_memory_pages", c_uint32),
        ("reserved1", c_uint32),
        ("wasm_deadline_ns", c_uint64),
        ("device", c_char_p),
        ("backend_path", c_char_p),
    ]


class SpawnOpts(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("mailbox_capacity", c_uint32),
        ("name", c_char_p),
        ("overflow", c_uint32),
        ("reserved", c_uint32),
        ("overflow_wait_ns", c_uint64),
        ("shutdown_timeout_ns", c_uint64),
    ]


class Reply(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("tag", c_uint32),
        ("sender", c_uint64),
        ("data", c_void_p),
        ("len", c_size_t),
        ("buffer", c_uint64),
    ]


class Metrics(Structure):
    _fields_ = [("struct_size", c_uint32), ("workers", c_uint32)] + [
        (name, c_uint64)
        for name in (
            "actors",
            "accepted",
            "processed",
            "dead_lettered",
            "queued",
            "failures",
            "restarts",
            "escalations",
            "dead_letters",
            "pool_live_bytes",
            "pool_peak_bytes",
            "pool_cached_bytes",
            "pool_limit_bytes",
            "sched_runs",
            "sched_steals",
            "sched_parks",
            "wasm_instances",
            "wasm_compiles",
        )
    ]


class Counters(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("accepted", c_uint64),
        ("processed", c_uint64),
        ("dead_lettered", c_uint64),
        ("queued", c_uint64),
    ]


class DeadLetter(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("tag", c_uint32),
        ("target", c_uint64),
        ("sender", c_uint64),
        ("size", c_uint64),
        ("at_unix_ns", c_int64),
        ("cause", c_int32),
        ("reason", c_char * 236),
    ]


class WasmOpts(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("memory_pages", c_uint32),
        ("deadline_ns", c_uint64),
        ("max_message", c_uint64),
        ("init", c_void_p),
        ("init_len", c_size_t),
        ("ro_dirs", POINTER(c_char_p)),
        ("n_ro_dirs", c_size_t),
        ("env", POINTER(c_char_p)),
        ("n_env", c_size_t),
        ("spawn", POINTER(c_char_p)),
        ("n_spawn", c_size_t),
    ]


class ChildSpec(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("restart", c_uint32),
        ("name", c_char_p),
        ("def_", c_void_p),
        ("module", c_uint64),
        ("wasm_opts", POINTER(WasmOpts)),
        ("shutdown_timeout_ns", c_uint64),
        ("mailbox_capacity", c_uint32),
        ("reserved", c_uint32),
        ("poller", c_uint64),
    ]


class SupervisorSpec(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("strategy", c_uint32),
        ("max_restarts", c_int32),
        ("backoff", c_uint32),
        ("period_ns", c_uint64),
        ("backoff_ns", c_uint64),
        ("backoff_max_ns", c_uint64),
        ("jitter", c_double),
        ("children", POINTER(ChildSpec)),
        ("n_children", c_size_t),
        ("name", c_char_p),
    ]


class PollItem(Structure):
    _fields_ = [
        ("kind", c_uint32),
        ("tag", c_uint32),
        ("actor", c_uint64),
        ("sender", c_uint64),
        ("token", c_uint64),
        ("data", c_void_p),
        ("len", c_size_t),
        ("buffer", c_uint64),
        ("is_ask", c_uint32),
        ("reserved", c_uint32),
        ("corr_id", c_uint64),
        ("device_buffer", c_uint64),
    ]


class PollResult(Structure):
    _fields_ = [
        ("token", c_uint64),
        ("status", c_int32),
        ("reply", c_uint32),
        ("tag", c_uint32),
        ("reserved", c_uint32),
        ("data", c_void_p),
        ("len", c_size_t),
    ]


class BackendInfo(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("score", c_uint32),
        ("current", c_uint32),
        ("reserved", c_uint32),
        ("name", ctypes.c_char * 32),
        ("path", ctypes.c_char * 256),
        ("error", ctypes.c_char * 192),
    ]


class DeviceInfo(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("type", c_uint32),
        ("name", ctypes.c_char * 128),
        ("vendor", ctypes.c_char * 64),
        ("memory_total", c_uint64),
        ("memory_free", c_uint64),
        ("max_alloc", c_uint64),
        ("max_binding", c_uint64),
        ("compute_units", c_uint32),
        ("reserved", c_uint32),
    ]


class DeviceOp(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("kind", c_uint32),
        ("dtype", c_uint32),
        ("reserved", c_uint32),
        ("a", c_uint64),
        ("b", c_uint64),
        ("c", c_uint64),
        ("a_offset", c_uint64),
        ("b_offset", c_uint64),
        ("c_offset", c_uint64),
        ("m", c_uint64),
        ("n", c_uint64),
        ("k", c_uint64),
        ("lda", c_uint64),
        ("ldb", c_uint64),
        ("ldc", c_uint64),
        ("trans_a", c_uint32),
        ("trans_b", c_uint32),
        ("alpha", ctypes.c_double),
        ("beta", ctypes.c_double),
    ]


# The hot path reads poll items and writes poll results with struct (one C
# call per batch) instead of ctypes field access (one call per field).
POLL_ITEM = struct.Struct("=IIQQQQQQIIQQ")
POLL_RESULT = struct.Struct("=QiIIIQQ")
assert POLL_ITEM.size == ctypes.sizeof(PollItem) == 80
assert POLL_RESULT.size == ctypes.sizeof(PollResult) == 40

u32, u64, i32, sz, vp, cp = c_uint32, c_uint64, c_int32, c_size_t, c_void_p, c_char_p
P64 = POINTER(c_uint64)
PSZ = POINTER(c_size_t)
P32 = POINTER(c_uint32)

# name: (restype, argtypes)
PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "stark_abi_version": (u32, []),
    "stark_last_error": (cp, []),
    "stark_status_name": (cp, [i32]),
    "stark_config_init": (i32, [POINTER(Config)]),
    "stark_runtime_new": (i32, [POINTER(Config), P64]),
    "stark_runtime_shutdown": (i32, [u64, u64]),
    "stark_runtime_free": (i32, [u64]),
    "stark_runtime_metrics": (i32, [u64, POINTER(Metrics)]),
    "stark_counters_get": (i32, [u64, u64, POINTER(Counters)]),
    "stark_dead_letters": (i32, [u64, POINTER(DeadLetter), sz, PSZ]),
    "stark_stop": (i32, [u64, u64]),
    "stark_kill": (i32, [u64, u64]),
    "stark_alive": (i32, [u64, u64]),
    "stark_send": (i32, [u64, u64, u32, vp, sz]),
    "stark_try_send": (i32, [u64, u64, u32, vp, sz]),
    "stark_send_from": (i32, [u64, u64, u64, u32, vp, sz]),
    "stark_request": (i32, [u64, u64, u64, u32, vp, sz, P64]),
    "stark_send_buffer": (i32, [u64, u64, u32, u64]),
    "stark_ask": (i32, [u64, u64, u32, vp, sz, u64, POINTER(Reply)]),
    "stark_reply_free": (i32, [POINTER(Reply)]),
    "stark_register": (i32, [u64, cp, u64]),
    "stark_unregister": (i32, [u64, cp]),
    "stark_lookup": (i32, [u64, cp, P64]),
    "stark_subscribe": (i32, [u64, cp, u64]),
    "stark_unsubscribe": (i32, [u64, cp, u64]),
    "stark_publish": (i32, [u64, cp, u32, vp, sz, P32]),
    "stark_send_after": (i32, [u64, u64, u64, u32, vp, sz, P64]),
    "stark_send_every": (i32, [u64, u64, u64, u32, vp, sz, P64]),
    "stark_timer_cancel": (i32, [u64, u64]),
    "stark_supervisor_start": (i32, [u64, POINTER(SupervisorSpec), P64]),
    "stark_buffer_alloc": (i32, [u64, sz, P64]),
    "stark_buffer_data": (i32, [u64, u64, POINTER(c_void_p), PSZ]),
    "stark_buffer_set_len": (i32, [u64, u64, sz]),
    "stark_buffer_retain": (i32, [u64, u64]),
    "stark_buffer_release": (i32, [u64, u64]),
    "stark_wasm_load": (i32, [u64, vp, sz, cp, u32, P64]),
    "stark_wasm_load_file": (i32, [u64, cp, u32, P64]),
    "stark_wasm_register": (i32, [u64, cp, u64]),
    "stark_module_free": (i32, [u64, u64]),
    "stark_spawn_wasm": (i32, [u64, u64, POINTER(WasmOpts), POINTER(SpawnOpts), P64]),
    "stark_wasm_upgrade": (i32, [u64, u64, u64, u64]),
    "stark_poller_new": (i32, [u64, u32, P64]),
    "stark_poller_free": (i32, [u64, u64]),
    "stark_spawn_polled": (i32, [u64, u64, POINTER(SpawnOpts), P64]),
    # items and n are passed as raw addresses (precomputed once per runtime).
    "stark_poll": (i32, [u64, u64, vp, sz, u64, vp]),
    "stark_poll_done": (i32, [u64, u64, vp, sz]),
    "stark_device_release": (i32, [u64, u64]),
    "stark_device_backends": (i32, [u64, POINTER(BackendInfo), sz, PSZ]),
    "stark_device_select": (i32, [u64, cp]),
    "stark_device_backend_name": (i32, [u64, ctypes.c_char_p, sz]),
    "stark_device_count": (i32, [u64, P32]),
    "stark_device_get_info": (i32, [u64, u32, POINTER(DeviceInfo)]),
    "stark_device_alloc": (i32, [u64, u32, u64, P64]),
    "stark_device_write": (i32, [u64, u64, u64, vp, sz]),
    "stark_device_read": (i32, [u64, u64, u64, vp, sz]),
    "stark_device_copy": (i32, [u64, u64, u64, u64, u64, u64]),
    "stark_device_run": (i32, [u64, POINTER(DeviceOp)]),
    "stark_device_sync": (i32, [u64, u32]),
    "stark_send_device_buffer": (i32, [u64, u64, u32, u64]),
}


def _candidates() -> list[str]:
    env = os.environ.get("STARK_LIBRARY")
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    out = [str(here / "libstark.so")]
    # A source checkout after `make lib` (bindings/python/stark -> build/lib).
    dev = here.parent.parent.parent / "build" / "lib" / "libstark.so"
    if dev.exists():
        out.append(str(dev))
    found = ctypes.util.find_library("stark")
    if found:
        out.append(found)
    return out


def _load() -> tuple[ctypes.CDLL, str]:
    errors: list[str] = []
    env = os.environ.get("STARK_LIBRARY")
    for path in _candidates():
        if not env and path.startswith("/") and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    hint = (
        "set STARK_LIBRARY=/path/to/libstark.so, or reinstall the package with Go on PATH "
        "(pip install ./bindings/python builds the library)"
    )
    raise ImportError("stark: cannot load libstark.so (" + "; ".join(errors) + "); " + hint)


lib, LIBRARY_PATH = _load()

for _name, (_res, _args) in PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError as e:  # pragma: no cover - a library older than the header
        raise ImportError(f"stark: {LIBRARY_PATH} lacks {_name} (is it libstark.so?)") from e
    _fn.restype = _res
    _fn.argtypes = _args

_version = lib.stark_abi_version()
ABI_VERSION_LOADED = (_version >> 16, _version & 0xFFFF)
if ABI_VERSION_LOADED[0] != ABI_MAJOR or ABI_VERSION_LOADED[1] < ABI_MINOR:
    raise ImportError(
        f"stark: {LIBRARY_PATH} implements C ABI {ABI_VERSION_LOADED[0]}.{ABI_VERSION_LOADED[1]}, "
        f"but this package needs {ABI_MAJOR}.{ABI_MINOR} (same major, minor at least {ABI_MINOR})"
    )


def last_error() -> str:
    """The calling thread's last error message from the library."""
    msg = lib.stark_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def status_name(status: int) -> str:
    """The library's static name for a status."""
    name = lib.stark_status_name(status)
    return name.decode() if name else f"status {status}"


def _bytes_offset() -> int:
    probe = b"stark-probe"
    addr = ctypes.cast(ctypes.c_char_p(probe), c_void_p).value
    assert addr is not None
    return addr - id(probe)


#: Offset of a bytes object's data from id(obj) (CPython layout), checked
#: at import against ctypes; the hot path uses it to pass replies by address.
BYTES_DATA_OFFSET = _bytes_offset()
