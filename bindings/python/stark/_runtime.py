"""The runtime, actor refs, messages and the polled-mailbox dispatcher.

Threading model (see the README):

- Python actors are *polled* actors (``stark_spawn_polled``): the runtime
  hands their messages to one poller per :class:`Runtime`, and Python takes
  them in batches with ``stark_poll`` (the GIL released while it blocks),
  runs ``receive`` and answers the batch with ``stark_poll_done``. No Go
  thread ever calls into Python.
- Exactly one thread polls at a time (the *leader*, holding ``_poll_lock``).
  A background dispatcher thread leads when nobody else does. A thread
  waiting in :meth:`ActorRef.ask` leads itself when it can (it polls, runs
  the actors and picks up its own reply without any GIL hand-off); while a
  caller-driven ask loop runs, the dispatcher thread stays off so it does
  not compete for the GIL, and takes over again shortly after the last ask.
- Asks to Python actors are ``stark_request`` from a per-runtime *inbox*
  polled actor: the reply comes back through the same poller with the
  request's ``corr_id`` (or, when a Python actor of this runtime answers,
  is handed to the waiting caller directly, as the Go runtime completes an
  ask's future). The caller waits in Python, so Ctrl-C interrupts it.
  Asks to WASM (or other non-Python) actors are a ``stark_ask`` run by a
  helper thread while the caller waits in Python (Ctrl-C works there too).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import ctypes
import dataclasses
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from ctypes import byref, c_size_t, c_uint32, c_uint64, c_void_p, sizeof
from typing import Any, TypeAlias

import msgpack  # type: ignore[import-untyped]

from . import _lib
from ._lib import lib
from .buffers import Buffer, owner_of, wrap, write_header
from .devices import Devices
from .errors import (
    ActorFailed,
    ActorStopped,
    InvalidArgument,
    RuntimeStopped,
    StarkError,
    Timeout,
    error_for,
    raise_status,
)

__all__ = [
    "ActorRef",
    "ChildSpec",
    "Counters",
    "DeadLetter",
    "Message",
    "Metrics",
    "Module",
    "Runtime",
    "Timer",
]

_OK = _lib.OK
_TIMEOUT = _lib.TIMEOUT
_STOPPED = _lib.STOPPED
_MESSAGE = _lib.POLL_MESSAGE
_STARTED = _lib.POLL_STARTED
_POLL_STOPPED = _lib.POLL_STOPPED
_FAILED = _lib.FAILED

_ITEM = _lib.POLL_ITEM
_RESULT = _lib.POLL_RESULT
_BOFF = _lib.BYTES_DATA_OFFSET
_string_at = ctypes.string_at
_monotonic = time.monotonic
_get_ident = threading.get_ident
_get_running_loop = asyncio.events._get_running_loop
_packb = msgpack.packb
_unpackb = msgpack.unpackb

#: How long a caller-driven poll blocks before checking signals (Ctrl-C) and deadlines.
_SLICE = 0.05
#: How long the dispatcher thread stays off after the last caller-driven ask.
_LINGER = 0.01
#: How long the dispatcher thread blocks in one stark_poll when idle.
_IDLE_POLL = 0.1
#: Tokens with nothing to say are given back in groups of this many (or sooner).
_LATER = 64
_MAX_TAG = 0xFFFFFF00  # tags from here up are the runtime's

Payload: TypeAlias = Any
"""What a message carries: bytes (sent as they are), a Buffer or numpy array
(pooled memory, zero copy), or any value msgpack can encode."""


def _ns(seconds: float | None, what: str) -> int:
    if seconds is None:
        return 0
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise TypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if seconds < 0 or seconds != seconds:
        raise InvalidArgument(f"{what} must be >= 0 seconds, not {seconds}")
    return min(int(seconds * 1e9), (1 << 63) - 1)


def _check_tag(tag: int) -> int:
    if type(tag) is not int:
        if isinstance(tag, bool) or not isinstance(tag, int):
            raise TypeError(f"tag must be an int, not {type(tag).__name__}")
        tag = int(tag)
    if not 0 <= tag < _MAX_TAG:
        raise InvalidArgument(f"tag {tag} is outside 0..{_MAX_TAG - 1:#x} (tags from {_MAX_TAG:#x} are the runtime's)")
    return tag


def encode(value: Any) -> bytes:
    """The bytes a value travels as: bytes-like objects as they are, anything else as msgpack."""
    t = type(value)
    if t is bytes:
        return value  # type: ignore[no-any-return]
    if t is bytearray or t is memoryview:
        return bytes(value)
    try:
        return _packb(value)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot send a {t.__name__}: not bytes, a Buffer, nor msgpack-encodable ({e})") from None


def decode(data: Any) -> Any:
    """Decodes msgpack bytes (or a Buffer's bytes) into a value."""
    try:
        return _unpackb(data, strict_map_key=False)
    except Exception as e:
        raise ValueError(
            f"the payload ({len(data)} bytes) is not one msgpack value ({e}); "
            "read msg.data (or ask(..., raw=True)) for raw bytes"
        ) from None


# ---------------------------------------------------------------------------
# Data classes


@dataclasses.dataclass(frozen=True)
class Metrics:
    """A snapshot of the runtime's counters (``stark_runtime_metrics``)."""

    workers: int
    actors: int
    accepted: int
    processed: int
    dead_lettered: int
    queued: int
    failures: int
    restarts: int
    escalations: int
    dead_letters: int
    pool_live_bytes: int
    pool_peak_bytes: int
    pool_cached_bytes: int
    pool_limit_bytes: int
    sched_runs: int
    sched_steals: int
    sched_parks: int
    wasm_instances: int
    wasm_compiles: int


@dataclasses.dataclass(frozen=True)
class Counters:
    """Conservation counters: ``accepted == processed + dead_lettered + queued`` when quiescent."""

    accepted: int
    processed: int
    dead_lettered: int
    queued: int

    @property
    def balanced(self) -> bool:
        """True when every accepted message is accounted for."""
        return self.accepted == self.processed + self.dead_lettered + self.queued


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A message that could not be handled, and why."""

    tag: int
    target: ActorRef | None
    sender: ActorRef | None
    size: int
    at: float
    """When, in seconds since the epoch."""
    cause: int
    """The reason as a status code (STARK_FULL, STARK_FAILED, ...)."""
    cause_name: str
    reason: str
    """The reason's message: for a failed Python actor, its traceback (truncated by the library)."""


# ---------------------------------------------------------------------------
# Shared state


class _Core:
    """The C runtime handle, shared by a Runtime and the buffers made from it.

    The handle is freed when the runtime is closed *and* no Python Buffer of
    it is alive, so numpy views never outlive the pool memory they point at.
    """

    __slots__ = ("h", "closed", "freed", "live", "lock", "__weakref__")

    def __init__(self, h: int) -> None:
        self.h = h
        self.closed = False
        self.freed = False
        self.live = 0
        self.lock = threading.Lock()

    def buffer_born(self) -> None:
        with self.lock:
            self.live += 1

    def buffer_gone(self) -> None:
        with self.lock:
            self.live -= 1
            free = self.closed and self.live == 0 and not self.freed
            if free:
                self.freed = True
        if free:
            lib.stark_runtime_free(self.h)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            free = self.live == 0 and not self.freed
            if free:
                self.freed = True
        if free:
            lib.stark_runtime_free(self.h)


class _Waiter:
    """One pending ask: resolved by whichever thread polls its reply."""

    __slots__ = ("done", "payload", "error", "target", "loop", "future")

    def __init__(self, target: int, loop: asyncio.AbstractEventLoop | None = None, future: Any = None) -> None:
        self.done = False
        self.payload: Any = None
        self.error: BaseException | None = None
        self.target = target
        self.loop = loop
        self.future = future


def _set_future(fut: asyncio.Future[Any], payload: Any, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(payload)


def _format_failure(e: BaseException) -> str:
    """The reason of a Python actor's failure: the exception first (dead
    letters keep only the start), then the traceback without the binding's frame."""
    tb = e.__traceback__
    if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    head = "".join(traceback.format_exception_only(type(e), e)).strip()
    return head + "\n" + "".join(traceback.format_exception(type(e), e, tb))


class _Slot:
    """A Python actor: what makes its instances, and its dispatch state."""

    __slots__ = ("source", "kind", "receive", "busy", "restarting", "pending", "init_error", "name")

    CLASS, OBJECT, FUNCTION = 0, 1, 2

    def __init__(self, source: Any, name: str | None = None) -> None:
        if isinstance(source, type):
            if not callable(getattr(source, "receive", None)):
                raise TypeError(f"actor class {source.__name__} has no receive(self, msg) method")
            kind = self.CLASS
        elif callable(getattr(source, "receive", None)):
            kind = self.OBJECT
        elif callable(source):
            kind = self.FUNCTION
        else:
            raise TypeError(
                f"an actor is a class or object with receive(msg), or a callable f(msg); not {type(source).__name__}"
            )
        self.source = source
        self.kind = kind
        self.receive: Callable[[Message], Any] | None = None
        self.busy = False
        self.restarting = False
        self.pending: collections.deque[tuple[Any, ...]] = collections.deque()
        self.init_error: str | None = None
        self.name = name

    def start(self) -> None:
        """A fresh incarnation: a new instance for a class."""
        self.restarting = False
        self.init_error = None
        try:
            if self.kind == self.CLASS:
                self.receive = self.source().receive
            elif self.kind == self.OBJECT:
                self.receive = self.source.receive
            else:
                self.receive = self.source
        except Exception as e:
            self.receive = None
            self.init_error = _format_failure(e)


# ---------------------------------------------------------------------------
# Public objects


class ActorRef:
    """A reference to an actor of a :class:`Runtime` (Python, WASM or native).

    Refs compare equal when they name the same actor of the same runtime and
    can be used as dict keys. A ref to an actor that terminated is stale:
    sending to it raises :class:`~stark.NotFound`.
    """

    __slots__ = ("_rt", "_ref")

    def __init__(self, runtime: Runtime, ref: int) -> None:
        self._rt = runtime
        self._ref = ref

    @property
    def id(self) -> int:
        """The ``stark_ref`` value (slot and generation)."""
        return self._ref

    @property
    def runtime(self) -> Runtime:
        """The runtime this actor lives in."""
        return self._rt

    def send(self, data: Payload = b"", tag: int = 0) -> None:
        """Sends a message (no reply expected).

        ``data`` is bytes (sent as they are), a :class:`Buffer` or a numpy
        array in pooled memory (moved, zero copy), or any msgpack-encodable
        value. Inside an actor the message's sender is that actor.
        """
        self._rt._send(self._ref, data, tag)

    def try_send(self, data: Payload = b"", tag: int = 0) -> None:
        """As :meth:`send`, but a full mailbox raises MailboxFull at once whatever the actor's policy."""
        self._rt._send(self._ref, data, tag, try_=True)

    def ask(self, data: Payload = b"", tag: int = 0, timeout: float | None = None, raw: bool = False) -> Any:
        """Sends a request and waits for the reply; returns it decoded from msgpack.

        With ``raw=True`` the reply's bytes are returned as they are (a
        :class:`Buffer` when the reply is pooled memory). Raises
        :class:`~stark.Timeout` after ``timeout`` seconds (default: the
        runtime's ask timeout), :class:`~stark.ActorFailed` when the actor
        failed on the message (``.reason`` holds the traceback), and
        KeyboardInterrupt promptly on Ctrl-C.
        """
        return self._rt._ask(self._ref, data, tag, timeout, raw)

    async def ask_async(
        self, data: Payload = b"", tag: int = 0, timeout: float | None = None, raw: bool = False
    ) -> Any:
        """As :meth:`ask`, awaited on the running asyncio loop (the loop is never blocked waiting)."""
        return await self._rt._ask_async(self._ref, data, tag, timeout, raw)

    def stop(self) -> None:
        """Graceful stop: the actor handles what is queued, then terminates. Returns at once."""
        self._rt._call_ref(lib.stark_stop, self._ref)

    def kill(self) -> None:
        """Stops the actor after the message in hand; what is queued is dead-lettered."""
        self._rt._call_ref(lib.stark_kill, self._ref)

    def is_alive(self) -> bool:
        """True while the actor has not terminated."""
        rt = self._rt
        if rt._core.closed:
            return False
        return bool(lib.stark_alive(rt._core.h, self._ref) == _OK)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._ref == self._ref and other._rt is self._rt

    def __hash__(self) -> int:
        return hash(self._ref)

    def __repr__(self) -> str:
        return f"ActorRef({self._ref:#x})"


class Message:
    """A message as a Python actor's ``receive`` sees it.

    ``data`` is the payload: ``bytes``, or a :class:`Buffer` (pooled memory,
    zero copy) when the sender sent one. ``value()`` decodes msgpack.
    Returning a value from ``receive`` answers an ask; so does ``reply()``.
    """

    __slots__ = (
        "_rt",
        "_actor",
        "tag",
        "data",
        "_sender",
        "_token",
        "is_ask",
        "corr_id",
        "_state",
        "_reply",
        "device_buffer",
    )

    def __init__(
        self, rt: Runtime, actor: int, tag: int, data: Any, sender: int, token: int, is_ask: int, corr_id: int
    ) -> None:
        self._rt = rt
        self._actor = actor
        #: The sender's tag.
        self.tag = tag
        #: The payload: bytes, or a Buffer (zero copy).
        self.data = data
        self._sender = sender
        self._token = token
        #: True when a caller waits for the answer (an ask or a request).
        self.is_ask = bool(is_ask or corr_id)
        #: The request's correlation id (0 if none).
        self.corr_id = corr_id
        self._state = 0  # 0 in receive, 1 deferred, 2 answered
        self._reply: tuple[int, bytes] | None = None
        #: A device buffer (``stark_dbuf`` handle) carried by the message, 0 if none.
        #: Device APIs are not bound in Python yet; the binding releases it after
        #: ``receive`` unless :meth:`take_device_buffer` was called.
        self.device_buffer = 0

    @property
    def sender(self) -> ActorRef | None:
        """Who sent it (None from outside the runtime)."""
        return ActorRef(self._rt, self._sender) if self._sender else None

    @property
    def actor(self) -> ActorRef:
        """The actor receiving it (``self`` of the actor)."""
        return ActorRef(self._rt, self._actor)

    @property
    def buffer(self) -> Buffer | None:
        """The pooled buffer carrying the payload, if any."""
        d = self.data
        return d if isinstance(d, Buffer) else None

    def value(self) -> Any:
        """The payload decoded from msgpack (raises ValueError if it is not msgpack)."""
        return decode(self.data)

    def array(self, dtype: Any = None, shape: Any = None) -> Any:
        """The payload as a numpy array without copying.

        With no arguments, the array sent from :meth:`Runtime.array` (its
        dtype and shape travel in the buffer). With ``dtype`` (and
        ``shape``), the raw payload reinterpreted.
        """
        buf = self.data
        if dtype is None and shape is None:
            if not isinstance(buf, Buffer):
                raise ValueError("the message carries no pooled array (its data is bytes)")
            return buf.array()
        import numpy as np

        arr = np.frombuffer(buf, dtype=dtype or "uint8")
        return arr if shape is None else arr.reshape(shape)

    def reply(self, value: Payload = None, tag: int | None = None) -> None:
        """Answers the message: the waiting ask, or a message to the sender.

        Called during ``receive`` it replaces the return value; after
        :meth:`defer` it may be called later, from any thread, once.
        """
        if self._state == 2:
            raise InvalidArgument("this message was already answered")
        if isinstance(value, Buffer):
            value = bytes(value.memoryview())  # replies of polled actors are copied (no buffer in stark_poll_result)
        payload = encode(value)
        t = self.tag if tag is None else _check_tag(tag)
        if self._state == 1:
            self._state = 2
            self._rt._done_deferred(self, t, payload)
        else:
            self._state = 2
            self._reply = (t, payload)

    def take_device_buffer(self) -> int:
        """Takes the message's device buffer handle (the caller then releases it); 0 if none."""
        h, self.device_buffer = self.device_buffer, 0
        return h

    def defer(self) -> Message:
        """Answers later: ``receive`` returns without replying and ``reply()`` is called afterwards.

        Until then the message counts as in progress (the poller's flow
        control holds back new messages when too many are).
        """
        if self._state != 0:
            raise InvalidArgument("defer() is only for a message in hand, not yet answered")
        self._state = 1
        return self

    def __repr__(self) -> str:
        n = len(self.data)
        return f"<stark.Message tag={self.tag} {n} bytes to={self._actor:#x} from={self._sender:#x}>"


class Timer:
    """A pending :meth:`Runtime.send_after` / :meth:`Runtime.send_every`."""

    __slots__ = ("_rt", "_h")

    def __init__(self, rt: Runtime, h: int) -> None:
        self._rt = rt
        self._h = h

    def cancel(self) -> bool:
        """Stops the timer; True if it was stopped before firing (a periodic one: stopped)."""
        if not self._h or self._rt._core.closed:
            return False
        h, self._h = self._h, 0
        return bool(lib.stark_timer_cancel(self._rt._core.h, h) == _OK)


class Module:
    """A compiled WASM module (:meth:`Runtime.load_wasm`)."""

    __slots__ = ("_rt", "_h", "name")

    def __init__(self, rt: Runtime, h: int, name: str) -> None:
        self._rt = rt
        self._h = h
        #: What it was loaded from (a path, or the name given).
        self.name = name

    @property
    def handle(self) -> int:
        """The ``stark_module`` handle."""
        return self._h

    def free(self) -> None:
        """Drops the module (actors running it keep running)."""
        if self._h and not self._rt._core.closed:
            h, self._h = self._h, 0
            self._rt._check(lib.stark_module_free(self._rt._core.h, h))

    def __repr__(self) -> str:
        return f"<stark.Module {self.name!r}>"


@dataclasses.dataclass
class ChildSpec:
    """One child of a supervisor (:meth:`Runtime.supervise`).

    ``actor`` is a Python actor (a class — instantiated at every start and
    restart —, an object with ``receive``, or a callable) or a WASM
    :class:`Module`. ``restart`` is "permanent" (always restarted),
    "transient" (after a failure only) or "temporary" (never). The WASM
    options (``init``, ``memory_pages``, ...) apply to module children.
    """

    actor: Any
    name: str | None = None
    restart: str = "permanent"
    mailbox: int | None = None
    shutdown_timeout: float | None = None
    init: Payload = None
    memory_pages: int = 0
    deadline: float | None = None
    max_message: int = 0


_RESTARTS = {"permanent": _lib.PERMANENT, "transient": _lib.TRANSIENT, "temporary": _lib.TEMPORARY}
_STRATEGIES = {"one_for_one": _lib.ONE_FOR_ONE, "one_for_all": _lib.ONE_FOR_ALL, "rest_for_one": _lib.REST_FOR_ONE}
_BACKOFFS = {"none": _lib.BACKOFF_NONE, "linear": _lib.BACKOFF_LINEAR, "exponential": _lib.BACKOFF_EXPONENTIAL}
_OVERFLOWS = {"fail": _lib.OVERFLOW_FAIL, "wait": _lib.OVERFLOW_WAIT, "drop": _lib.OVERFLOW_DROP}

_runtimes: weakref.WeakSet[Runtime] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for rt in list(_runtimes):
        try:
            rt.close(timeout=1.0)
        except Exception:
            pass


# ---------------------------------------------------------------------------
# The runtime


class Runtime:
    """A STARK runtime: actors, mailboxes, a scheduler, a buffer pool.

    Use it as a context manager (it is closed on exit)::

        with stark.Runtime() as rt:
            ref = rt.spawn(lambda msg: msg.value() * 2)
            assert ref.ask(21) == 42

    Durations are seconds (floats); 0 or None means the library's default.
    ``poll_capacity`` bounds the messages handed to Python and not yet
    answered (flow control), ``batch`` the messages taken per ``stark_poll``.

    How Python actors are run (see the README, "Threading model"):
    ``dispatcher`` starts the background thread that polls when nobody else
    does; ``inline_asks`` lets a thread waiting in :meth:`ActorRef.ask` poll
    and run the actors itself (no GIL hand-off); ``async_inline`` is how
    long (seconds) :meth:`ActorRef.ask_async` may poll on the event loop's
    thread before leaving it to the dispatcher (0: never);
    ``local_replies`` hands a Python actor's reply to a waiting Python
    caller of the same runtime directly instead of as a message back
    through the runtime.
    """

    def __init__(
        self,
        workers: int = 0,
        mailbox_capacity: int = 0,
        pool_limit_bytes: int = 0,
        *,
        budget: int = 0,
        max_actors: int = 0,
        ask_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        wasm_cache_dir: str | os.PathLike[str] | None = None,
        wasm_memory_pages: int = 0,
        wasm_deadline: float | None = None,
        device: str | None = None,
        backend_path: str | None = None,
        poll_capacity: int = 4096,
        batch: int = 256,
        dispatcher: bool = True,
        inline_asks: bool = True,
        async_inline: float = 0.001,
        local_replies: bool = True,
    ) -> None:
        for name, v in (
            ("workers", workers),
            ("mailbox_capacity", mailbox_capacity),
            ("pool_limit_bytes", pool_limit_bytes),
            ("budget", budget),
            ("max_actors", max_actors),
            ("wasm_memory_pages", wasm_memory_pages),
            ("poll_capacity", poll_capacity),
            ("batch", batch),
        ):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
            if v < 0:
                raise InvalidArgument(f"{name} must be >= 0, not {v}")
        if batch < 1:
            raise InvalidArgument("batch must be >= 1")
        if not dispatcher and not inline_asks:
            raise InvalidArgument("with dispatcher=False, inline_asks must be True (someone has to poll)")
        cfg = _lib.Config()
        lib.stark_config_init(byref(cfg))
        cfg.workers = workers
        cfg.mailbox_capacity = mailbox_capacity
        cfg.budget = budget
        cfg.max_actors = max_actors
        cfg.ask_timeout_ns = _ns(ask_timeout, "ask_timeout")
        cfg.shutdown_timeout_ns = _ns(shutdown_timeout, "shutdown_timeout")
        cfg.pool_limit_bytes = pool_limit_bytes
        cfg.wasm_cache_dir = os.fsencode(wasm_cache_dir) if wasm_cache_dir is not None else None
        cfg.wasm_memory_pages = wasm_memory_pages
        cfg.wasm_deadline_ns = _ns(wasm_deadline, "wasm_deadline")
        # Kept referenced by the Config for the call below (the library copies the strings).
        cfg.device = device.encode() if device else None
        cfg.backend_path = os.fsencode(backend_path) if backend_path else None
        out = c_uint64()
        st = lib.stark_runtime_new(byref(cfg), byref(out))
        if st != _OK:
            raise_status(st)
        self._core = _Core(out.value)
        self._h = out.value
        self._ask_timeout = ask_timeout or 5.0
        self._local_replies = local_replies
        self._inline = inline_asks
        self._async_budget = async_inline if inline_asks else 0.0
        self._closing = False
        self._shutting = False

        # Poller, inbox, and the buffers stark_poll / stark_poll_done use.
        p = c_uint64()
        self._check(lib.stark_poller_new(self._h, poll_capacity, byref(p)))
        self._poller = p.value
        self._batch = batch
        self._items = ctypes.create_string_buffer(batch * _ITEM.size)
        self._items_addr = ctypes.addressof(self._items)
        self._items_mv = memoryview(self._items).cast("B")
        self._results = ctypes.create_string_buffer(batch * _RESULT.size)
        self._results_addr = ctypes.addressof(self._results)
        self._n = c_size_t()
        self._n_addr = ctypes.addressof(self._n)
        self._raw_done = 0
        self._backlog: collections.deque[tuple[Any, ...]] = collections.deque()
        self._later: list[int] = []  # tokens to give back with nothing to say
        self._poll_stopped = False

        self._actors: dict[int, _Slot] = {}
        self._actors_lock = threading.Lock()
        self._children: dict[str, _Slot] = {}  # supervised Python children, by their registered name
        self._child_seq = 0

        self._pending: dict[int, _Waiter] = {}
        self._early: dict[int, tuple[Any, ...]] = {}
        self._abandoned: dict[int, None] = {}
        self._pending_lock = threading.Lock()
        self._askers = 0
        self._last_ask = 0.0
        self._followers = 0
        self._cv = threading.Condition(threading.Lock())
        self._poll_lock = threading.RLock()
        self._cur_actor = 0
        self._cur_thread = 0
        self._tls = threading.local()
        self._pool: _AskPool | None = None

        inbox = c_uint64()
        opts = _lib.SpawnOpts(struct_size=sizeof(_lib.SpawnOpts), mailbox_capacity=1 << 16)
        self._check(lib.stark_spawn_polled(self._h, self._poller, byref(opts), byref(inbox)))
        self._inbox = inbox.value

        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if dispatcher:
            self._thread = threading.Thread(
                target=_dispatcher_main, args=(weakref.ref(self),), name="stark-dispatch", daemon=True
            )
            self._thread.start()
        _runtimes.add(self)

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._core.closed:
                self.close(timeout=1.0)
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        """True once :meth:`close` (or :meth:`shutdown`) was called."""
        return self._closing

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stops every actor children-first, letting each handle what it has queued.

        After ``timeout`` seconds (default 5) the rest is killed. Returns
        False when actors had to be killed. Metrics and counters stay
        readable until :meth:`close`; everything else raises RuntimeStopped.
        """
        if self._closing or self._shutting:
            return True
        self._shutting = True
        ns = _ns(timeout, "timeout")
        limit = (timeout or 5.0) + 5.0
        # Take the poll loop over: a message to the inbox wakes a dispatcher
        # blocked in stark_poll, and it exits once it sees _shutting.
        lib.stark_send(self._h, self._inbox, 0, None, 0)
        self._wake.set()
        # Stop the actors from a helper thread while this one keeps running
        # the Python actors: they finish what they had queued (a polled
        # actor hands its queue over before it stops).
        outcome: list[Any] = []

        def stop() -> None:
            st = lib.stark_runtime_shutdown(self._h, ns)
            outcome.append((st, _lib.last_error() if st != _OK else ""))

        stopper = threading.Thread(target=stop, name="stark-shutdown", daemon=True)
        stopper.start()
        if self._poll_lock.acquire(timeout=limit):
            try:
                end = _monotonic() + limit
                while stopper.is_alive() and _monotonic() < end:
                    self._pump(0.005)
                while self._pump(0) and _monotonic() < end:
                    pass
            except StarkError:
                pass
            finally:
                self._poll_lock.release()
        stopper.join(limit)
        st, err = outcome[0] if outcome else (_TIMEOUT, "the runtime did not stop in time")
        self._closing = True
        lib.stark_poller_free(self._h, self._poller)
        self._fail_all(RuntimeStopped("the runtime was shut down", _STOPPED))
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown()
        if st not in (_OK, _TIMEOUT):
            raise error_for(st, err)
        return bool(st == _OK)

    def close(self, timeout: float | None = None) -> None:
        """Shuts down (if not yet) and frees the runtime.

        Buffers still referenced from Python keep the pool memory valid
        until they are gone; every other call then raises RuntimeStopped.
        """
        if self._core.closed:
            return
        try:
            self.shutdown(timeout)
        finally:
            self._core.close()
            _runtimes.discard(self)

    def _fail_all(self, err: BaseException) -> None:
        with self._pending_lock:
            waiters = list(self._pending.values())
            self._pending.clear()
        for w in waiters:
            self._resolve(w, None, err)

    # -- errors -----------------------------------------------------------------
    def _check(self, st: int) -> None:
        if st != _OK:
            raise_status(st, self._closing)

    def _alive(self) -> int:
        if self._closing:
            raise RuntimeStopped("the runtime is closed", _STOPPED)
        return self._h

    def _call_ref(self, fn: Any, ref: int) -> None:
        h = self._alive()
        st = fn(h, ref)
        if st != _OK:
            raise_status(st, self._closing)

    # -- actors -----------------------------------------------------------------
    def spawn(
        self,
        actor: Any,
        name: str | None = None,
        mailbox: int | None = None,
        *,
        overflow: str = "fail",
        overflow_wait: float | None = None,
        shutdown_timeout: float | None = None,
    ) -> ActorRef:
        """Spawns a Python actor and returns its ref.

        ``actor`` is a class with ``receive(self, msg)`` (instantiated at
        every start and restart: prefer it for supervision), an object with
        ``receive``, or a callable ``f(msg)``. ``receive`` returns the reply
        to an ask (or None); an exception fails the actor: the message is
        dead-lettered with the traceback, the asker gets ActorFailed, and
        the actor is restarted with a fresh instance.

        ``name`` registers the actor; ``mailbox`` is its capacity;
        ``overflow`` is what a send to a full mailbox does: "fail"
        (MailboxFull), "wait" (block up to ``overflow_wait`` seconds) or
        "drop" (dead-letter it silently).
        """
        h = self._alive()
        slot = _Slot(actor, name)
        opts = self._spawn_opts(name, mailbox, overflow, overflow_wait, shutdown_timeout)
        out = c_uint64()
        with self._actors_lock:
            st = lib.stark_spawn_polled(h, self._poller, byref(opts), byref(out))
            if st != _OK:
                raise_status(st, self._closing)
            self._actors[out.value] = slot
        return ActorRef(self, out.value)

    @staticmethod
    def _spawn_opts(
        name: str | None,
        mailbox: int | None,
        overflow: str = "fail",
        overflow_wait: float | None = None,
        shutdown_timeout: float | None = None,
    ) -> _lib.SpawnOpts:
        opts = _lib.SpawnOpts()
        opts.struct_size = sizeof(opts)
        if mailbox is not None:
            if isinstance(mailbox, bool) or not isinstance(mailbox, int):
                raise TypeError(f"mailbox must be an int, not {type(mailbox).__name__}")
            if not 0 <= mailbox < 1 << 32:
                raise InvalidArgument(f"mailbox capacity {mailbox} is out of range")
            opts.mailbox_capacity = mailbox
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"name must be a str, not {type(name).__name__}")
            opts.name = name.encode()
        if overflow not in _OVERFLOWS:
            raise InvalidArgument(f"overflow must be one of {sorted(_OVERFLOWS)}, not {overflow!r}")
        opts.overflow = _OVERFLOWS[overflow]
        opts.overflow_wait_ns = _ns(overflow_wait, "overflow_wait")
        opts.shutdown_timeout_ns = _ns(shutdown_timeout, "shutdown_timeout")
        return opts

    def _ref(self, ref: Any) -> int:
        if isinstance(ref, ActorRef):
            if ref._rt is not self:
                raise InvalidArgument(f"{ref!r} belongs to another runtime")
            return ref._ref
        raise TypeError(f"expected an ActorRef, not {type(ref).__name__}")

    # -- sending ------------------------------------------------------------------
    def _send(self, to: int, data: Any, tag: int, try_: bool = False) -> None:
        h = self._alive()
        if type(tag) is not int or not 0 <= tag < _MAX_TAG:
            tag = _check_tag(tag)
        if type(data) is not bytes:
            buf = self._as_buffer(data)
            if buf is not None:
                hb = buf._take_for_send()
                st = lib.stark_send_buffer(h, to, tag, hb)
                if st != _OK:
                    raise_status(st, self._closing)
                return
            data = encode(data)
        if self._cur_actor and self._cur_thread == _get_ident():
            st = lib.stark_send_from(h, self._cur_actor, to, tag, data, len(data))
        elif try_:
            st = lib.stark_try_send(h, to, tag, data, len(data))
        else:
            st = lib.stark_send(h, to, tag, data, len(data))
        if st != _OK:
            raise_status(st, self._closing)

    def _as_buffer(self, data: Any) -> Buffer | None:
        """The pooled buffer to move for data (a Buffer, or a numpy array), else None."""
        if isinstance(data, Buffer):
            if data._core is not self._core:
                raise InvalidArgument("this buffer belongs to another runtime")
            return data
        if type(data).__name__ == "ndarray" and hasattr(data, "__array_interface__"):
            owner = owner_of(data)
            if owner is not None and owner._core is self._core:
                arr = owner.array() if owner.live else None
                if (
                    arr is None
                    or arr.__array_interface__["data"][0] != data.__array_interface__["data"][0]
                    or arr.shape != data.shape
                    or arr.dtype != data.dtype
                ):
                    raise InvalidArgument(
                        "only the whole array returned by Runtime.array can be sent without copying; "
                        "send a copy of this view (numpy.ascontiguousarray) instead"
                    )
                return owner
            # Ordinary numpy memory: one copy into a pooled array.
            return self._array_copy(data)
        return None

    def _array_copy(self, data: Any) -> Buffer:
        import numpy as np

        arr = self.array(data.shape, data.dtype)
        np.copyto(arr, data)
        owner = owner_of(arr)
        assert owner is not None
        return owner

    def _ask(self, to: int, data: Any, tag: int, timeout: float | None, raw: bool) -> Any:
        h = self._alive()
        if type(tag) is not int or not 0 <= tag < _MAX_TAG:
            tag = _check_tag(tag)
        if type(data) is not bytes:
            data = self._ask_payload(data)
        timeout = self._timeout(timeout)
        deadline = _monotonic() + timeout
        if to not in self._actors:
            return self._finish(self._native_ask_wait(h, to, tag, data, timeout), raw)
        tls = self._tls
        corr = getattr(tls, "corr", None)
        if corr is None:
            corr = tls.corr = c_uint64()
        w = _Waiter(to)
        st = lib.stark_request(h, self._inbox, to, tag, data, len(data), byref(corr))
        if st != _OK:
            raise_status(st, self._closing)
        cid = corr.value
        plock = self._pending_lock
        with plock:
            early = self._early.pop(cid, None)
            if early is None:
                self._pending[cid] = w
                self._askers += 1
        if early is not None:
            if early[1] is not None:
                raise early[1]
            return self._finish(early[0], raw)
        try:
            self._wait(w, cid, deadline)
        finally:
            with plock:
                self._askers -= 1
            self._last_ask = _monotonic()
        if w.error is not None:
            raise w.error
        return self._finish(w.payload, raw)

    def _timeout(self, timeout: Any) -> float:
        if timeout is None:
            return self._ask_timeout
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
            raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
        if timeout < 0 or timeout != timeout:
            raise InvalidArgument(f"timeout must be >= 0 seconds, not {timeout}")
        return float(timeout) or self._ask_timeout

    def _ask_payload(self, data: Any) -> bytes:
        if isinstance(data, Buffer) or type(data).__name__ == "ndarray":
            raise TypeError(
                "asks carry bytes or msgpack values: send pooled buffers with send() "
                "(the C ABI has no request that moves a buffer)"
            )
        return encode(data)

    @staticmethod
    def _finish(payload: Any, raw: bool) -> Any:
        if raw or isinstance(payload, Buffer):
            return payload
        return decode(payload)

    def _wait(self, w: _Waiter, cid: int, deadline: float) -> None:
        """Waits for w, leading the poll loop whenever nobody else does."""
        lock = self._poll_lock
        try:
            while not w.done:
                now = _monotonic()
                if now >= deadline:
                    break
                if self._closing:
                    raise RuntimeStopped("the runtime was shut down", _STOPPED)
                if self._inline and lock.acquire(False):
                    try:
                        while not w.done and not self._poll_stopped:
                            now = _monotonic()
                            if now >= deadline:
                                break
                            self._pump(min(deadline - now, _SLICE))
                    finally:
                        lock.release()
                        if self._followers:
                            with self._cv:
                                self._cv.notify_all()
                    if self._poll_stopped and not w.done:
                        raise RuntimeStopped("the runtime was shut down", _STOPPED)
                else:
                    with self._cv:
                        self._followers += 1
                        try:
                            if not w.done:
                                self._cv.wait(min(deadline - now, _SLICE))
                        finally:
                            self._followers -= 1
        finally:
            if not w.done:
                with self._pending_lock:
                    if self._pending.pop(cid, None) is not None:
                        self._abandon(cid)
        if not w.done:
            raise Timeout(f"no reply within {deadline - _monotonic() + 0.0:.3g}s of the deadline", _TIMEOUT)

    def _abandon(self, cid: int) -> None:
        # Called with _pending_lock held: a late reply to cid is dropped.
        ab = self._abandoned
        ab[cid] = None
        if len(ab) > 65536:
            for k in list(ab)[:32768]:
                del ab[k]

    async def _ask_async(self, to: int, data: Any, tag: int, timeout: float | None, raw: bool) -> Any:
        h = self._alive()
        tag = _check_tag(tag)
        if type(data) is not bytes:
            data = self._ask_payload(data)
        timeout = self._timeout(timeout)
        loop = asyncio.get_running_loop()
        if to not in self._actors:
            cf = self._executor().submit(self._native_ask, h, to, tag, data, timeout)
            return self._finish(await asyncio.wrap_future(cf), raw)
        fut2: asyncio.Future[Any] = loop.create_future()
        w = _Waiter(to, loop, fut2)
        corr = c_uint64()
        st = lib.stark_request(h, self._inbox, to, tag, data, len(data), byref(corr))
        if st != _OK:
            raise_status(st, self._closing)
        cid = corr.value
        with self._pending_lock:
            early = self._early.pop(cid, None)
            if early is None:
                self._pending[cid] = w
        if early is not None:
            if early[1] is not None:
                raise early[1]
            return self._finish(early[0], raw)
        if self._async_budget > 0:
            # Let the other tasks of this loop send their requests first: one
            # inline poll then answers them all as a batch.
            await asyncio.sleep(0)
        polled = self._async_budget > 0 and not w.done and self._poll_lock.acquire(False)
        if polled:
            # Nobody polls: run the poll loop here for a moment. The reply
            # usually comes within it, with no thread hand-off at all.
            with self._pending_lock:
                self._askers += 1
            try:
                end = _monotonic() + self._async_budget
                while not w.done and not self._poll_stopped:
                    rem = end - _monotonic()
                    if rem <= 0:
                        break
                    self._pump(rem)
            finally:
                self._poll_lock.release()
                with self._pending_lock:
                    self._askers -= 1
                self._last_ask = _monotonic()
                if self._followers:
                    with self._cv:
                        self._cv.notify_all()
        if fut2.done():  # answered while polling here (the future was set directly)
            return self._finish(fut2.result(), raw)
        handle = loop.call_later(timeout, self._expire, cid, w)
        if self._thread is None:
            # No dispatcher thread: poll here in short slices, letting the
            # loop run between them.
            try:
                while not w.done and not self._poll_stopped:
                    if self._poll_lock.acquire(False):
                        try:
                            self._pump(0.001)
                        finally:
                            self._poll_lock.release()
                    if not w.done:
                        await asyncio.sleep(0.0005)
            except BaseException:
                handle.cancel()
                raise
        elif polled or self._async_budget <= 0:
            # Nobody may be polling now: make sure the dispatcher thread does.
            self._last_ask = 0.0
            self._wake.set()
        else:
            # Someone is polling and will answer; the dispatcher thread
            # steps aside after that batch, so the next ask polls here.
            self._last_ask = _monotonic()
        try:
            payload = await fut2
        finally:
            handle.cancel()
            if not w.done:
                with self._pending_lock:
                    if self._pending.pop(cid, None) is not None:
                        self._abandon(cid)
        return self._finish(payload, raw)

    def _expire(self, cid: int, w: _Waiter) -> None:
        with self._pending_lock:
            if self._pending.pop(cid, None) is None:
                return
            self._abandon(cid)
        self._resolve(w, None, Timeout("no reply in time", _TIMEOUT))

    # -- asks to non-Python actors: stark_ask on a helper thread -------------
    def _executor(self) -> _AskPool:
        if self._pool is None:
            with self._pending_lock:
                if self._pool is None:
                    self._pool = _AskPool(8)
        return self._pool

    def _native_ask(self, h: int, to: int, tag: int, data: bytes, timeout: float) -> Any:
        r = _lib.Reply()
        r.struct_size = sizeof(r)
        st = lib.stark_ask(h, to, tag, data, len(data), _ns(timeout, "timeout"), byref(r))
        if st != _OK:
            raise_status(st, self._closing)
        if r.buffer:
            return wrap(self._core, r.buffer, r.data or 0, r.len)
        try:
            return _string_at(r.data, r.len) if r.len else b""
        finally:
            lib.stark_reply_free(byref(r))

    def _native_ask_wait(self, h: int, to: int, tag: int, data: bytes, timeout: float) -> Any:
        fut = self._executor().submit(self._native_ask, h, to, tag, data, timeout)
        # Waiting in Python (in slices) keeps Ctrl-C working.
        while True:
            try:
                return fut.result(timeout=_SLICE)
            except TimeoutError:
                if fut.done():
                    return fut.result()
                continue

    # -- the dispatcher ----------------------------------------------------------
    def _pump(self, timeout: float) -> bool:
        """Polls one batch (waiting up to timeout seconds) and runs it. Hold _poll_lock.

        Returns False when nothing came."""
        if self._n.value > self._raw_done:  # an interrupted pump left items
            self._convert()
        if not self._backlog:
            self._raw_done = 0
            st = lib.stark_poll(self._h, self._poller, self._items_addr, self._batch, int(timeout * 1e9), self._n_addr)
            if st == _OK:
                self._convert()
            elif st == _TIMEOUT:
                if self._later:
                    self._flush([])
                return False
            elif st == _STOPPED or self._closing:
                self._poll_stopped = True
                return False
            else:
                raise_status(st, self._closing)
        self._run_backlog()
        return True

    def _convert(self) -> None:
        n = self._n.value
        start = self._raw_done
        out: list[tuple[Any, ...]] = []
        append = out.append
        size = _ITEM.size
        for t in _ITEM.iter_unpack(self._items_mv[start * size : n * size]):
            kind, tag, actor, sender, token, data, ln, buf, is_ask, _r, corr, dbuf = t
            if kind == _MESSAGE:
                if buf:
                    payload: Any = wrap(self._core, buf, data, ln)
                else:
                    payload = _string_at(data, ln) if ln else b""
                append((kind, tag, actor, sender, token, payload, is_ask, corr, dbuf))
            else:
                append((kind, 0, actor, 0, 0, None, 0, 0, 0))
        self._backlog.extend(out)
        self._raw_done = n

    def _run_backlog(self) -> None:
        """Runs the queued items. Answers (replies, failures) go back at the end of
        the batch; tokens with nothing to say go back lazily, with the next
        answers, every _LATER of them, or when a poll finds nothing."""
        results: list[tuple[int, int, int, int, bytes | None]] = []
        bl = self._backlog
        handle = self._handle
        try:
            while bl:
                handle(bl.popleft(), results)
                if len(results) >= self._batch:
                    self._flush(results)
        finally:
            if results or len(self._later) >= _LATER:
                self._flush(results)

    def _flush(self, results: list[tuple[int, int, int, int, bytes | None]]) -> None:
        """Gives back results and every lazy token, batch by batch (stark_poll_done)."""
        buf = self._results
        pack = _RESULT.pack_into
        batch = self._batch
        later = self._later
        while results or later:
            chunk = results[:batch]
            del results[:batch]
            off = 0
            for token, status, reply, tag, payload in chunk:
                if payload:
                    pack(buf, off, token, status, reply, tag, 0, id(payload) + _BOFF, len(payload))
                else:
                    pack(buf, off, token, status, reply, tag, 0, 0, 0)
                off += 40
            n = len(chunk)
            if later and n < batch:
                take = later[: batch - n]
                del later[: batch - n]
                for token in take:
                    pack(buf, off, token, 0, 0, 0, 0, 0, 0)
                    off += 40
                n += len(take)
            lib.stark_poll_done(self._h, self._poller, self._results_addr, n)
            del chunk

    def _done_deferred(self, msg: Message, tag: int, payload: bytes) -> None:
        if msg.corr_id and msg._sender == self._inbox and self._local_replies:
            self._done_one(msg._token, _OK, 0, 0, b"")
            self._deliver(msg.corr_id, payload, None)
            return
        self._done_one(msg._token, _OK, 1, tag, payload)

    def _done_one(self, token: int, status: int, reply: int, tag: int, payload: bytes) -> None:
        """Answers one deferred message, from any thread."""
        h = self._alive()
        res = _lib.PollResult(token, status, reply, tag, 0, None, len(payload))
        keep = ctypes.create_string_buffer(payload, len(payload)) if payload else None
        if keep is not None:
            res.data = ctypes.addressof(keep)
        st = lib.stark_poll_done(h, self._poller, byref(res), 1)
        if st != _OK:
            raise_status(st, self._closing)

    def _handle(self, item: tuple[Any, ...], results: list[Any]) -> None:
        kind = item[0]
        actor = item[2]
        if kind == _MESSAGE:
            if actor == self._inbox:
                self._later.append(item[4])
                self._reply_in(item)
                return
            slot = self._actors.get(actor)
            if slot is None:
                slot = self._lookup_slot(actor)
                if slot is None:
                    results.append((item[4], _FAILED, 0, 0, b"stark: no Python actor is bound to this ref"))
                    return
                slot.start()
            if slot.busy or slot.restarting or slot.pending:
                slot.pending.append(item)
                return
            self._invoke(slot, item, results)
            while slot.pending and not slot.busy and not slot.restarting:
                self._invoke(slot, slot.pending.popleft(), results)
        elif kind == _STARTED:
            if actor == self._inbox:
                return
            slot = self._actors.get(actor) or self._lookup_slot(actor)
            if slot is None:
                return
            slot.start()
            while slot.pending and not slot.busy and not slot.restarting:
                self._invoke(slot, slot.pending.popleft(), results)
        elif kind == _POLL_STOPPED:
            with self._actors_lock:
                slot = self._actors.pop(actor, None)
            if slot is not None:
                while slot.pending:
                    it = slot.pending.popleft()
                    results.append((it[4], _STOPPED, 0, 0, b"the actor stopped before handling the message"))
            self._fail_target(actor)

    def _lookup_slot(self, actor: int) -> _Slot | None:
        """The slot of an actor this poller has not seen: a supervised child (or a racing spawn)."""
        with self._actors_lock:
            slot = self._actors.get(actor)
            if slot is not None:
                return slot
            out = c_uint64()
            for name, spec in self._children.items():
                if lib.stark_lookup(self._h, name.encode(), byref(out)) == _OK and out.value == actor:
                    slot = _Slot(spec.source, name)
                    self._actors[actor] = slot
                    return slot
        return None

    def _invoke(self, slot: _Slot, item: tuple[Any, ...], results: list[Any]) -> None:
        _kind, tag, actor, sender, token, payload, is_ask, corr, dbuf = item
        msg = Message(self, actor, tag, payload, sender, token, is_ask, corr)
        if dbuf:
            msg.device_buffer = dbuf
        prev = self._cur_actor, self._cur_thread
        self._cur_actor, self._cur_thread = actor, _get_ident()
        slot.busy = True
        try:
            receive = slot.receive
            if receive is None:
                raise _InitFailed(slot.init_error or "the actor has no instance")
            r = receive(msg)
        except BaseException as e:
            slot.busy = False
            slot.receive = None
            slot.restarting = True
            if isinstance(e, _InitFailed):
                reason = "the actor's constructor failed:\n" + str(e)
            else:
                reason = _format_failure(e)
            results.append((token, _FAILED, 0, 0, reason.encode("utf-8", "replace")))
            if corr and sender == self._inbox:
                self._reply_failed(corr, reason)
            if not isinstance(e, Exception):
                raise
            return
        finally:
            slot.busy = False
            self._cur_actor, self._cur_thread = prev
            if msg.device_buffer:  # not taken: the binding owns it and lets it go
                lib.stark_device_release(self._h, msg.device_buffer)
        state = msg._state
        if state == 0:
            if not msg.is_ask:
                self._later.append(token)
                return
            rtag = tag
        elif state == 2 and msg._reply is not None:
            rtag, r = msg._reply
        else:
            return  # deferred: msg.reply() gives the token back later
        if corr and sender == self._inbox and self._local_replies:
            # A request from this runtime's inbox: hand the reply to the
            # waiting caller here, as the Go runtime completes an ask's
            # future, instead of a message back through the inbox.
            self._later.append(token)
            if type(r) is not bytes and not isinstance(r, Buffer):
                try:
                    r = encode(r)
                except TypeError as e:
                    self._deliver(corr, None, e)
                    return
            self._deliver(corr, r, None)
            return
        if type(r) is not bytes:
            if isinstance(r, Buffer):
                r = bytes(r.memoryview())
            else:
                try:
                    r = encode(r)
                except TypeError as e:
                    reason = f"the reply to tag {tag} could not be encoded: {e}"
                    results.append((token, _FAILED, 0, 0, reason.encode()))
                    slot.receive, slot.restarting = None, True
                    return
        results.append((token, _OK, 1, rtag, r))

    def _reply_in(self, item: tuple[Any, ...]) -> None:
        if item[7]:
            self._deliver(item[7], item[5], None)

    def _reply_failed(self, corr: int, reason: str) -> None:
        self._deliver(corr, None, ActorFailed(reason, _FAILED))

    def _deliver(self, corr: int, payload: Any, error: BaseException | None) -> None:
        """Completes the ask waiting for corr (or keeps the answer for a caller about to wait)."""
        with self._pending_lock:
            w = self._pending.pop(corr, None)
            if w is None:
                if self._abandoned.pop(corr, None) is None:
                    early = self._early
                    early[corr] = (payload, error)
                    if len(early) > 65536:
                        for k in list(early)[:32768]:
                            del early[k]
                return
        self._resolve(w, payload, error)

    def _fail_target(self, actor: int) -> None:
        with self._pending_lock:
            gone = [(c, w) for c, w in self._pending.items() if w.target == actor]
            for c, _w in gone:
                del self._pending[c]
                self._abandon(c)
        for _c, w in gone:
            self._resolve(w, None, ActorStopped(f"actor {actor:#x} stopped before answering", _STOPPED))

    def _resolve(self, w: _Waiter, payload: Any, error: BaseException | None) -> None:
        w.payload = payload
        w.error = error
        if w.loop is not None:
            w.done = True
            if _get_running_loop() is w.loop:  # polled on the loop's own thread
                _set_future(w.future, payload, error)
                return
            try:
                w.loop.call_soon_threadsafe(_set_future, w.future, payload, error)
            except RuntimeError:  # the loop is closed
                pass
            return
        w.done = True
        if self._followers:
            with self._cv:
                self._cv.notify_all()

    # -- buffers --------------------------------------------------------------------
    def buffer(self, nbytes: int) -> Buffer:
        """A pooled buffer of nbytes (contents unspecified), zero copy when sent.

        Raises PoolExhausted past the pool's byte limit, TooLarge if it can never fit.
        """
        if isinstance(nbytes, bool) or not isinstance(nbytes, int):
            raise TypeError(f"nbytes must be an int, not {type(nbytes).__name__}")
        if nbytes < 0:
            raise InvalidArgument(f"nbytes must be >= 0, not {nbytes}")
        h = self._alive()
        out = c_uint64()
        self._check(lib.stark_buffer_alloc(h, nbytes, byref(out)))
        ptr = c_void_p()
        n = c_size_t()
        st = lib.stark_buffer_data(h, out.value, byref(ptr), byref(n))
        if st != _OK:
            lib.stark_buffer_release(h, out.value)
            raise_status(st, self._closing)
        return wrap(self._core, out.value, ptr.value or 0, n.value)

    def array(self, shape: int | Sequence[int], dtype: Any = "float64") -> Any:
        """A numpy array in pooled memory: ``ref.send(arr)`` moves it without copying.

        The receiving actor gets it back with ``msg.array()`` (same memory,
        same address). Requires numpy.
        """
        import numpy as np

        dt = np.dtype(dtype)
        if dt.hasobject or dt.fields is not None or np.dtype(dt.str) != dt:
            raise InvalidArgument(f"dtype {dt} cannot live in a pooled array")
        shp = (shape,) if isinstance(shape, int) else tuple(int(d) for d in shape)
        if any(d < 0 for d in shp):
            raise InvalidArgument(f"negative dimension in shape {shp}")
        count = 1
        for d in shp:
            count *= d
        from .buffers import header_size

        buf = self.buffer(header_size(len(shp)) + count * dt.itemsize)
        hsize = write_header(buf, dt, shp)
        return np.frombuffer(buf, dtype=dt, count=count, offset=hsize).reshape(shp)  # type: ignore[call-overload]

    # -- introspection ------------------------------------------------------------
    def metrics(self) -> Metrics:
        """A snapshot of the runtime's counters."""
        m = _lib.Metrics()
        m.struct_size = sizeof(m)
        if self._core.closed:
            raise RuntimeStopped("the runtime is closed", _STOPPED)
        self._check(lib.stark_runtime_metrics(self._h, byref(m)))
        return Metrics(**{f.name: getattr(m, f.name) for f in dataclasses.fields(Metrics)})

    def counters(self, ref: ActorRef | None = None) -> Counters:
        """Conservation counters of one actor, or of the whole runtime."""
        r = 0 if ref is None else self._ref(ref)
        if self._core.closed:
            raise RuntimeStopped("the runtime is closed", _STOPPED)
        c = _lib.Counters()
        c.struct_size = sizeof(c)
        self._check(lib.stark_counters_get(self._h, r, byref(c)))
        return Counters(c.accepted, c.processed, c.dead_lettered, c.queued)

    def dead_letters(self, limit: int = 256) -> list[DeadLetter]:
        """The most recent dead letters (oldest first)."""
        if self._core.closed:
            raise RuntimeStopped("the runtime is closed", _STOPPED)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument("limit must be a positive int")
        items = (_lib.DeadLetter * limit)()
        items[0].struct_size = sizeof(_lib.DeadLetter)
        n = c_size_t()
        self._check(lib.stark_dead_letters(self._h, items, limit, byref(n)))
        out = []
        for d in items[: n.value]:
            out.append(
                DeadLetter(
                    tag=d.tag,
                    target=ActorRef(self, d.target) if d.target else None,
                    sender=ActorRef(self, d.sender) if d.sender else None,
                    size=d.size,
                    at=d.at_unix_ns / 1e9,
                    cause=d.cause,
                    cause_name=_lib.status_name(d.cause),
                    reason=d.reason.decode("utf-8", "replace"),
                )
            )
        return out

    # -- names, topics, timers ------------------------------------------------------
    def register(self, name: str, ref: ActorRef) -> None:
        """Registers ref under name (InvalidArgument if a live actor has it); released when it terminates."""
        h = self._alive()
        self._check(lib.stark_register(h, _name(name), self._ref(ref)))

    def unregister(self, name: str) -> None:
        """Removes a name (NotFound if unknown)."""
        h = self._alive()
        self._check(lib.stark_unregister(h, _name(name)))

    def lookup(self, name: str) -> ActorRef:
        """The actor registered under name; raises NotFound if none."""
        h = self._alive()
        out = c_uint64()
        self._check(lib.stark_lookup(h, _name(name), byref(out)))
        return ActorRef(self, out.value)

    def subscribe(self, topic: str, ref: ActorRef) -> None:
        """Subscribes ref to topic: it receives a copy of every publish."""
        h = self._alive()
        self._check(lib.stark_subscribe(h, _name(topic, "topic"), self._ref(ref)))

    def unsubscribe(self, topic: str, ref: ActorRef) -> None:
        """Removes a subscription."""
        h = self._alive()
        self._check(lib.stark_unsubscribe(h, _name(topic, "topic"), self._ref(ref)))

    def publish(self, topic: str, data: Payload = b"", tag: int = 0) -> int:
        """Delivers a copy to every live subscriber; returns how many accepted it."""
        h = self._alive()
        payload = self._bytes_payload(data)
        n = c_uint32()
        self._check(lib.stark_publish(h, _name(topic, "topic"), _check_tag(tag), payload, len(payload), byref(n)))
        return n.value

    def _bytes_payload(self, data: Any) -> bytes:
        if isinstance(data, Buffer) or type(data).__name__ == "ndarray":
            raise TypeError("this call copies its payload: pass bytes or a msgpack value, not a pooled buffer")
        return encode(data)

    def send_after(self, delay: float, ref: ActorRef, data: Payload = b"", tag: int = 0) -> Timer:
        """Sends data (copied now) to ref after delay seconds; returns a cancellable Timer."""
        return self._timer(lib.stark_send_after, delay, ref, data, tag, "delay")

    def send_every(self, period: float, ref: ActorRef, data: Payload = b"", tag: int = 0) -> Timer:
        """Sends data to ref every period seconds until cancelled or ref is gone."""
        if isinstance(period, (int, float)) and not isinstance(period, bool) and period <= 0:
            raise InvalidArgument("period must be > 0 seconds")
        return self._timer(lib.stark_send_every, period, ref, data, tag, "period")

    def _timer(self, fn: Any, seconds: float, ref: ActorRef, data: Any, tag: int, what: str) -> Timer:
        h = self._alive()
        ns = _ns(seconds, what)
        r = self._ref(ref)
        payload = self._bytes_payload(data)
        out = c_uint64()
        self._check(fn(h, ns, r, _check_tag(tag), payload, len(payload), byref(out)))
        return Timer(self, out.value)

    # -- devices ------------------------------------------------------------------
    @property
    def devices(self) -> Devices:
        """The runtime's device backend: backends, devices, device memory, ops (stark.devices)."""
        d = self.__dict__.get("_devices")
        if d is None:
            d = self.__dict__["_devices"] = Devices(self)
        return d

    # -- WASM ---------------------------------------------------------------------
    def load_wasm(
        self, source: str | os.PathLike[str] | bytes, trusted: bool = False, name: str | None = None
    ) -> Module:
        """Validates and compiles a WASM module from a path or bytes (once per distinct bytes).

        ``trusted=True`` compiles without interruption checks (no
        deadline): for code you control. Raises InvalidArgument when the
        bytes are not WebAssembly or do not fit the guest contract.
        """
        h = self._alive()
        flags = _lib.WASM_TRUSTED if trusted else 0
        out = c_uint64()
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            label = name or "<bytes>"
            self._check(lib.stark_wasm_load(h, data, len(data), label.encode(), flags, byref(out)))
        elif isinstance(source, (str, os.PathLike)):
            label = name or os.fspath(source)
            self._check(lib.stark_wasm_load_file(h, os.fsencode(source), flags, byref(out)))
        else:
            raise TypeError(f"load_wasm takes a path or bytes, not {type(source).__name__}")
        return Module(self, out.value, label)

    def register_wasm(self, name: str, module: Module) -> None:
        """Lets guests spawn module by name (if their options allow it)."""
        h = self._alive()
        self._check(lib.stark_wasm_register(h, _name(name), self._module(module)))

    def _module(self, module: Any) -> int:
        if not isinstance(module, Module):
            raise TypeError(f"expected a stark.Module, not {type(module).__name__}")
        if module._rt is not self:
            raise InvalidArgument("this module belongs to another runtime")
        return module._h

    def _wasm_opts(
        self,
        init: Any,
        memory_pages: int,
        deadline: float | None,
        max_message: int,
        ro_dirs: Iterable[str | tuple[str, str]] = (),
        env: Iterable[str] = (),
        spawn: Iterable[str] = (),
    ) -> tuple[_lib.WasmOpts, list[Any]]:
        keep: list[Any] = []
        o = _lib.WasmOpts()
        o.struct_size = sizeof(o)
        for label, v in (("memory_pages", memory_pages), ("max_message", max_message)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{label} must be an int")
            if v < 0:
                raise InvalidArgument(f"{label} must be >= 0")
        o.memory_pages = memory_pages
        o.deadline_ns = _ns(deadline, "deadline")
        o.max_message = max_message
        if init is not None:
            data = self._bytes_payload(init)
            cbuf = ctypes.create_string_buffer(data, len(data))
            keep.append(cbuf)
            o.init = ctypes.addressof(cbuf)
            o.init_len = len(data)

        def strings(items: Iterable[Any], label: str) -> tuple[Any, int]:
            vals = []
            for it in items:
                if isinstance(it, tuple) and label == "ro_dirs":
                    it = f"{it[0]}:{it[1]}"
                if not isinstance(it, str):
                    raise TypeError(f"{label} entries must be str")
                vals.append(it.encode())
            if not vals:
                return None, 0
            arr = (ctypes.c_char_p * len(vals))(*vals)
            keep.append(arr)
            return arr, len(vals)

        o.ro_dirs, o.n_ro_dirs = strings(ro_dirs, "ro_dirs")
        o.env, o.n_env = strings(env, "env")
        o.spawn, o.n_spawn = strings(spawn, "spawn")
        return o, keep

    def spawn_wasm(
        self,
        module: Module,
        init: Payload = None,
        memory_pages: int = 0,
        deadline: float | None = None,
        ro_dirs: Iterable[str | tuple[str, str]] = (),
        env: Iterable[str] = (),
        spawn: Iterable[str] = (),
        *,
        max_message: int = 0,
        name: str | None = None,
        mailbox: int | None = None,
    ) -> ActorRef:
        """Spawns a WASM actor running module.

        ``init`` is the bytes (or msgpack value) given to ``stark_init``;
        ``memory_pages`` (64 KiB each) and ``deadline`` (seconds per message)
        bound it; ``ro_dirs`` are "host:guest" pairs (or tuples) it may read,
        ``env`` names of host environment variables it sees, ``spawn``
        registered module names it may spawn ("*": any).
        """
        h = self._alive()
        mh = self._module(module)
        o, keep = self._wasm_opts(init, memory_pages, deadline, max_message, ro_dirs, env, spawn)
        opts = self._spawn_opts(name, mailbox)
        out = c_uint64()
        self._check(lib.stark_spawn_wasm(h, mh, byref(o), byref(opts), byref(out)))
        del keep
        return ActorRef(self, out.value)

    def upgrade(self, ref: ActorRef, module: Module, timeout: float | None = None) -> None:
        """Replaces the module of a running WASM actor between two messages (state carried when supported)."""
        h = self._alive()
        self._check(lib.stark_wasm_upgrade(h, self._ref(ref), self._module(module), _ns(timeout, "timeout")))

    # -- supervisors -----------------------------------------------------------------
    def supervise(
        self,
        children: Sequence[ChildSpec | Any],
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        period: float = 5.0,
        backoff: str = "none",
        backoff_min: float = 0.0,
        backoff_max: float = 0.0,
        jitter: float = 0.0,
        name: str | None = None,
    ) -> ActorRef:
        """Starts a supervisor and its children, in order; returns the supervisor's ref.

        ``children`` are :class:`ChildSpec` (or bare actors: classes,
        callables, Modules). ``strategy`` is "one_for_one", "one_for_all"
        or "rest_for_one"; more than ``max_restarts`` restarts within
        ``period`` seconds (negative: none allowed) escalate. ``backoff``
        ("none", "linear", "exponential") delays restarts from
        ``backoff_min`` up to ``backoff_max`` seconds. Python children are
        polled actors: a fresh instance of their class at every restart.
        Find a child with :meth:`lookup` when you give it a name.
        """
        h = self._alive()
        if strategy not in _STRATEGIES:
            raise InvalidArgument(f"strategy must be one of {sorted(_STRATEGIES)}, not {strategy!r}")
        if backoff not in _BACKOFFS:
            raise InvalidArgument(f"backoff must be one of {sorted(_BACKOFFS)}, not {backoff!r}")
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int):
            raise TypeError("max_restarts must be an int")
        specs = [c if isinstance(c, ChildSpec) else ChildSpec(c) for c in children]
        arr = (_lib.ChildSpec * max(len(specs), 1))()
        keep: list[Any] = []
        new_children: dict[str, _Slot] = {}
        for i, cs in enumerate(specs):
            c = arr[i]
            c.struct_size = sizeof(c)
            if cs.restart not in _RESTARTS:
                raise InvalidArgument(f"restart must be one of {sorted(_RESTARTS)}, not {cs.restart!r}")
            c.restart = _RESTARTS[cs.restart]
            c.shutdown_timeout_ns = _ns(cs.shutdown_timeout, "shutdown_timeout")
            if cs.mailbox is not None:
                c.mailbox_capacity = cs.mailbox
            cname = cs.name
            if isinstance(cs.actor, Module):
                c.module = self._module(cs.actor)
                o, k = self._wasm_opts(cs.init, cs.memory_pages, cs.deadline, cs.max_message)
                keep += [o, k]
                c.wasm_opts = ctypes.pointer(o)
            else:
                slot = _Slot(cs.actor, cname)
                if cname is None:
                    self._child_seq += 1
                    cname = f"stark.py/{self._h:x}/{self._child_seq}"
                if cname in self._children or cname in new_children:
                    raise InvalidArgument(f"child name {cname!r} is used twice")
                new_children[cname] = slot
                c.poller = self._poller
            if cname is not None:
                enc = _name(cname, "child name")
                keep.append(enc)
                c.name = enc
        spec = _lib.SupervisorSpec()
        spec.struct_size = sizeof(spec)
        spec.strategy = _STRATEGIES[strategy]
        spec.max_restarts = max_restarts
        spec.backoff = _BACKOFFS[backoff]
        spec.period_ns = _ns(period, "period")
        spec.backoff_ns = _ns(backoff_min, "backoff_min")
        spec.backoff_max_ns = _ns(backoff_max, "backoff_max")
        if not 0 <= jitter <= 1:
            raise InvalidArgument("jitter must be within 0..1")
        spec.jitter = jitter
        spec.children = arr
        spec.n_children = len(specs)
        if name is not None:
            spec.name = _name(name)
        with self._actors_lock:
            self._children.update(new_children)
        out = c_uint64()
        st = lib.stark_supervisor_start(h, byref(spec), byref(out))
        if st != _OK:
            with self._actors_lock:
                for cn in new_children:
                    self._children.pop(cn, None)
            raise_status(st, self._closing)
        return ActorRef(self, out.value)

    def __repr__(self) -> str:
        state = "closed" if self._closing else "running"
        return f"<stark.Runtime {self._h:#x} {state}>"


class _InitFailed(Exception):
    pass


class _AskPool:
    """Daemon threads that run blocking stark_ask calls (asks to WASM and
    native actors) while the caller waits in Python. Daemon, unlike
    ThreadPoolExecutor's, so an ask stuck in a guest never delays exit."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._threads: list[threading.Thread] = []
        self._jobs: collections.deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = collections.deque()
        self._cv = threading.Condition(threading.Lock())
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._cv:
            if self._closed:
                raise RuntimeStopped("the runtime was shut down", _STOPPED)
            self._jobs.append((fut, fn, args))
            if self._idle:
                self._cv.notify()
            elif len(self._threads) < self._size:
                t = threading.Thread(target=self._work, name="stark-ask", daemon=True)
                self._threads.append(t)
                t.start()
        return fut

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    self._cv.wait()
                    self._idle -= 1
                if not self._jobs:
                    return
                fut, fn, args = self._jobs.popleft()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as e:
                fut.set_exception(e)

    def shutdown(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()


def _name(name: Any, what: str = "name") -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not name or "\0" in name:
        raise InvalidArgument(f"{what} must be a non-empty string without NUL")
    return name.encode()


def _dispatcher_main(ref: weakref.ReferenceType[Runtime]) -> None:
    """The background dispatcher: leads the poll loop when no caller does."""
    while True:
        rt = ref()
        if rt is None or rt._closing or rt._shutting or rt._poll_stopped:
            return
        wake = rt._wake
        if rt._inline and (rt._askers or _monotonic() - rt._last_ask < _LINGER):
            del rt
            wake.wait(_LINGER)
            wake.clear()
            continue
        lock = rt._poll_lock
        if not lock.acquire(timeout=_LINGER):
            del rt
            continue
        try:
            rt._pump(_IDLE_POLL)
        except StarkError:
            if rt._closing:
                return
        except Exception:  # a bug: keep serving
            traceback.print_exc()
        finally:
            lock.release()
            if rt._followers:
                with rt._cv:
                    rt._cv.notify_all()
        del rt
