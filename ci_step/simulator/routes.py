"""Route a request by a table: one row per endpoint (method, path template, handler).

A template is a path of literal segments and ``{name}`` placeholders; a placeholder
matches one whole segment, the empty one too, so a handler can answer an empty id as the
API does. A :class:`Scope` row checks every request under its template (a prefix), in
table order, before the endpoint is looked up: authentication, or an id that must exist,
answer the same whatever follows. A path no row has answers ``not_found``; a path that a
row has for another method answers ``not_allowed``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from ci_step.simulator.faults import Fault
from ci_step.simulator.reply import Reply, error

Ctx = TypeVar("Ctx")


@dataclass(frozen=True)
class Call:
    """One request as the handlers see it; ``parts`` are the path's unquoted segments."""

    method: str
    parts: list[str]
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    fault: Fault | None = None
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> object:
        """The body as JSON; None for an empty body or one that is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass(frozen=True)
class Route(Generic[Ctx]):
    method: str
    path: str
    handler: Callable[[Ctx, Call], Reply]


@dataclass(frozen=True)
class Scope(Generic[Ctx]):
    """``check`` answers for every request under ``path`` it refuses (None: go on)."""

    path: str
    check: Callable[[Ctx, Call], Reply | None]


def not_found() -> Reply:
    return error(404, "NOT_FOUND", "No such endpoint.")


def not_allowed() -> Reply:
    return error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")


class Router(Generic[Ctx]):
    def __init__(
        self,
        rows: Iterable[Route[Ctx] | Scope[Ctx]],
        *,
        unknown: Callable[[], Reply] = not_found,
        wrong_method: Callable[[], Reply] = not_allowed,
    ) -> None:
        self._rows = [(row, row.path.split("/")) for row in rows]
        self._unknown = unknown
        self._wrong_method = wrong_method

    def dispatch(self, ctx: Ctx, call: Call) -> Reply:
        for row, template in self._rows:
            if isinstance(row, Scope):
                params = _match(template, call.parts[: len(template)])
                refused = None if params is None else row.check(ctx, replace(call, params=params))
                if refused is not None:
                    return refused
        known = False
        for row, template in self._rows:
            params = _match(template, call.parts)
            if isinstance(row, Route) and params is not None:
                if row.method == call.method:
                    return row.handler(ctx, replace(call, params=params))
                known = True
        return self._wrong_method() if known else self._unknown()


def _match(template: list[str], parts: list[str]) -> dict[str, str] | None:
    if len(template) != len(parts):
        return None
    params: dict[str, str] = {}
    for pattern, part in zip(template, parts, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            params[pattern[1:-1]] = part
        elif pattern != part:
            return None
    return params


def json_only(handler: Callable[[Ctx, Call], Reply]) -> Callable[[Ctx, Call], Reply]:
    """A handler that refuses a request without ``Content-Type: application/json``.

    The notes say calls with a body send it. That the API refuses a call without it, also a
    body-less POST such as stop or a restore, and how, are *unverified*: 415 with a v1 error
    body, ``UNSUPPORTED_MEDIA_TYPE``, is the simulator's guess.
    """

    def checked(ctx: Ctx, call: Call) -> Reply:
        media = call.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return error(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json.")
        return handler(ctx, call)

    return checked
