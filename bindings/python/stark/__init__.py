"""STARK for Python: actors on the STARK runtime through its C ABI (libstark.so).

The shortest real use::

    import stark

    with stark.Runtime() as rt:
        greeter = rt.spawn(lambda msg: f"hello, {msg.value()}")
        print(greeter.ask("world"))          # hello, world

Payloads: ``bytes`` travel as they are; a :class:`Buffer` (``rt.buffer``) or
a pooled numpy array (``rt.array``) moves without copying; anything else is
encoded with msgpack, and ``msg.value()`` / ``ref.ask()`` decode msgpack.
"""

from __future__ import annotations

from ._lib import ABI_MAJOR, ABI_MINOR, ABI_VERSION_LOADED, LIBRARY_PATH
from ._runtime import (
    ActorRef,
    ChildSpec,
    Counters,
    DeadLetter,
    Message,
    Metrics,
    Module,
    Runtime,
    Timer,
    decode,
    encode,
)
from .buffers import Buffer
from .devices import BackendInfo, DeviceBuffer, DeviceInfo, Devices
from .errors import (
    ActorFailed,
    ActorStopped,
    Denied,
    InternalError,
    InvalidArgument,
    MailboxFull,
    NotFound,
    PoolExhausted,
    RuntimeStopped,
    StaleRef,
    StarkError,
    Timeout,
    TooLarge,
    Unsupported,
)

__version__ = "0.1.0"

#: The C ABI version of the loaded library, as (major, minor).
abi_version = ABI_VERSION_LOADED
#: Where libstark.so was loaded from.
library_path = LIBRARY_PATH

__all__ = [
    "ABI_MAJOR",
    "ABI_MINOR",
    "ActorFailed",
    "ActorRef",
    "ActorStopped",
    "BackendInfo",
    "Buffer",
    "ChildSpec",
    "Counters",
    "DeadLetter",
    "Denied",
    "DeviceBuffer",
    "DeviceInfo",
    "Devices",
    "InternalError",
    "InvalidArgument",
    "MailboxFull",
    "Message",
    "Metrics",
    "Module",
    "NotFound",
    "PoolExhausted",
    "Runtime",
    "RuntimeStopped",
    "StaleRef",
    "StarkError",
    "Timeout",
    "Timer",
    "TooLarge",
    "Unsupported",
    "abi_version",
    "decode",
    "encode",
    "library_path",
]
