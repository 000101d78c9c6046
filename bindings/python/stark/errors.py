"""Exceptions raised by the stark package, one per ``stark_status`` code.

Every error carries the status (``.status``, ``.status_name``) and the
library's message (``.message``, from ``stark_last_error`` read right after
the failing call on the same thread)::

    StarkError
    ├── InvalidArgument   (also ValueError)         STARK_INVALID
    ├── NotFound          (also LookupError)        STARK_NOT_FOUND; StaleRef is an alias
    ├── Timeout           (also TimeoutError)       STARK_TIMEOUT
    ├── MailboxFull                                 STARK_FULL
    ├── PoolExhausted                               STARK_EXHAUSTED
    ├── ActorStopped                                STARK_STOPPED
    │   └── RuntimeStopped                          (the runtime is closed)
    ├── Unsupported       (also NotImplementedError) STARK_UNSUPPORTED
    ├── InternalError                               STARK_INTERNAL
    ├── Denied            (also PermissionError)    STARK_DENIED
    ├── TooLarge                                    STARK_TOO_LARGE
    └── ActorFailed                                 STARK_FAILED (.reason: e.g. a Python traceback)
"""

from __future__ import annotations

from . import _lib


class StarkError(Exception):
    """Base class of every error of the runtime; ``status`` is the C status code."""

    status: int = -1

    def __init__(self, message: str = "", status: int | None = None) -> None:
        if status is not None:
            self.status = status
        self.message = message
        super().__init__(message or self.status_name)

    @property
    def status_name(self) -> str:
        """The library's name for :attr:`status` ("invalid argument", ...)."""
        return _lib.status_name(self.status) if self.status >= 0 else "error"


class InvalidArgument(StarkError, ValueError):
    """A bad argument: wrong length, bad option, a taken name (STARK_INVALID)."""

    status = _lib.INVALID


class NotFound(StarkError, LookupError):
    """An unknown, stale or forged handle or ref, or an unknown name (STARK_NOT_FOUND)."""

    status = _lib.NOT_FOUND


#: A ref to an actor that has terminated is reported as :class:`NotFound`.
StaleRef = NotFound


class Timeout(StarkError, TimeoutError):
    """A deadline passed: an ask without a reply in time (STARK_TIMEOUT)."""

    status = _lib.TIMEOUT


class MailboxFull(StarkError):
    """The target's mailbox is full (STARK_FULL)."""

    status = _lib.FULL


class PoolExhausted(StarkError):
    """A limit was reached: the buffer pool's bytes or the actor table (STARK_EXHAUSTED)."""

    status = _lib.EXHAUSTED


class ActorStopped(StarkError):
    """The target actor (or poller) is stopping or stopped (STARK_STOPPED)."""

    status = _lib.STOPPED


class RuntimeStopped(ActorStopped):
    """The runtime was shut down or closed."""


class Unsupported(StarkError, NotImplementedError):
    """Not available here (STARK_UNSUPPORTED)."""

    status = _lib.UNSUPPORTED


class InternalError(StarkError):
    """A bug in the library (STARK_INTERNAL); the message says more."""

    status = _lib.INTERNAL


class Denied(StarkError, PermissionError):
    """Not granted by the WASM sandbox (STARK_DENIED)."""

    status = _lib.DENIED


class TooLarge(StarkError):
    """A payload or a request over a limit (STARK_TOO_LARGE)."""

    status = _lib.TOO_LARGE


class ActorFailed(StarkError):
    """The actor failed while handling the message (STARK_FAILED).

    ``reason`` is why: for a Python actor, the formatted traceback of the
    exception it raised; for a WASM or native actor, the reason it gave.
    """

    status = _lib.FAILED

    @property
    def reason(self) -> str:
        """The failure's reason (a Python actor's traceback, a guest's message)."""
        return self.message


_BY_STATUS: dict[int, type[StarkError]] = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        NotFound,
        Timeout,
        MailboxFull,
        PoolExhausted,
        ActorStopped,
        Unsupported,
        InternalError,
        Denied,
        TooLarge,
        ActorFailed,
    )
}


def error_for(status: int, message: str) -> StarkError:
    """The exception for a status code and message."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        return StarkError(message, status)
    return cls(message)


def check(status: int, stopped: bool = False) -> None:
    """Raises the exception for ``status`` (reading the thread's last error) unless it is OK."""
    if status != _lib.OK:
        raise_status(status, stopped)


def raise_status(status: int, stopped: bool = False) -> None:
    """Raises the exception for a failed call's status, with the thread's last error."""
    msg = _lib.last_error()
    if stopped and status in (_lib.STOPPED, _lib.NOT_FOUND):
        raise RuntimeStopped(msg or "the runtime is closed", _lib.STOPPED)
    raise error_for(status, msg)
