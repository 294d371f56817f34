"""Turn SIGTERM, SIGINT and SIGHUP into an Interrupted exception, once.

As PID 1 in a container the default actions do not apply, so without these
handlers a `docker stop` would wait for SIGKILL.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(BaseException):
    """Raised in the main thread by a signal; a BaseException so no library swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def _handler(signum: int, _frame: FrameType | None) -> None:
    # A second signal while the outputs are being written is ignored.
    quiet()
    raise Interrupted(signum)


Handlers = dict[int, signal.Handlers | int | Callable[[int, FrameType | None], object] | None]


def install() -> Handlers:
    """Install the handlers; return the previous ones for restore()."""
    return {sig: signal.signal(sig, _handler) for sig in HANDLED}


def restore(previous: Handlers) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def quiet() -> None:
    """Ignore further signals (while the final outputs are written)."""
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
