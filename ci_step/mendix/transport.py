"""HTTP calls to the Mendix API: timeouts, retries with backoff, the deadline.

Whether a request may be sent again follows from its method: GET, HEAD, PUT, DELETE
and OPTIONS are idempotent (a repeat changes nothing more), a POST or PATCH is not,
unless its call says the server ignores a repeat (``repeatable=True``). Requests that
may be sent again retry on connection errors, timeouts, 429 and 5xx with exponential
backoff and full jitter, honouring Retry-After, always within the deadline. Others
retry only when the request certainly was not processed: it never left, or the server
turned it away unread (429, or 503 with Retry-After).
Redirects are never followed: the Mendix headers must not leave the API origin. A
certificate that does not verify ends the call at once (UntrustedCertificate), saying
how to trust a private CA: no retry can change it.
Each whole answer, headers and body, ends by the deadline (see ci_step.mendix.watchdog).

An answer is foreign data: at most MAX_ANSWER bytes of it are read (the connection is
closed past that), and its JSON is used only when it is nested at most MAX_DEPTH deep.
No credential the user did not give leaves the step: a session never takes one from
``~/.netrc`` (see ``given_credentials_only``).
"""

from __future__ import annotations

import email.utils
import random
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from ci_step.clock import Deadline
from ci_step.errors import ApiError, ApiUnavailable, DeadlineExceeded, read_error_body
from ci_step.mendix import watchdog
from ci_step.retry import Backoff, Tries
from ci_step.units import format_size

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Calls that change something carry a JSON body, {} when they have nothing to say: the
# Mendix APIs require "Content-Type: application/json" on them.
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# An API answer is small (a list of a thousand packages is a few hundred KiB): past this
# many bytes the step reads no more of it.
MAX_ANSWER = 4 * 1024 * 1024
MAX_DEPTH = 64  # levels of JSON arrays and objects; the Mendix answers use three or four
READ_PIECE = 64 * 1024
# Methods whose repeat has the effect of one request (RFC 9110, 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


# Up to 8 tries, exponential with full jitter; a Retry-After wait of 0 still waits 1 s.
API_BACKOFF = Backoff(first=1.0, cap=30.0, jitter=True, tries=8, at_least=1.0)


@dataclass(frozen=True)
class RetryPolicy:
    backoff: Backoff = API_BACKOFF
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # for each read, and for each whole API answer


class Uncertain(ApiUnavailable):
    """A request that may not be repeated failed after it may have reached the server."""


class Transient(Exception):
    """A failure worth another try (carries what to say if tries run out)."""

    def __init__(self, reason: str, wait: float | None = None, sent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.sent = sent


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds named by a Retry-After header (delta-seconds or HTTP-date).

    ``now``: the wall-clock time (Unix seconds) an HTTP-date is measured from.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def never_sent(exc: BaseException) -> bool:
    """True when the request certainly did not reach the server (no connection made)."""
    unsent = (urllib3.exceptions.NewConnectionError, requests.exceptions.ConnectTimeout)
    return any(isinstance(inner, unsent) for inner in _behind(exc))


def _behind(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors behind it, as requests and urllib3 wrap them (an error's
    ``reason``, ``__cause__`` and arguments): at most 16, so no chain runs on for ever."""
    todo: list[BaseException] = [exc]
    for _ in range(16):
        if not todo:
            return
        current = todo.pop()
        yield current
        for inner in (getattr(current, "reason", None), current.__cause__, *current.args):
            if isinstance(inner, BaseException) and inner is not current:
                todo.append(inner)


class _GivenOnly(requests.auth.AuthBase):
    """Adds no credential: set as a session's ``auth``, it keeps requests from taking one
    from ``~/.netrc``.

    A session that trusts the environment (``trust_env``, the default) sends the netrc
    entry of the request's host as ``Authorization: Basic`` unless the session or the
    request has an auth of its own; any auth, even this empty one, stops that lookup. The
    rest of what trust_env brings stays: HTTPS_PROXY, HTTP_PROXY and NO_PROXY, and the CA
    bundle of REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, exactly as requests reads them.
    Redirects, where requests would look netrc up again, are never followed by it here.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def given_credentials_only(session: requests.Session) -> requests.Session:
    """``session``, sending no credential but those the step sets (never ``~/.netrc``)."""
    if session.auth is None:
        session.auth = _GivenOnly()
    return session


class Transport:
    def __init__(
        self,
        session: requests.Session,
        deadline: Deadline,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        on_retry: Callable[[str, float, int], None] | None = None,
        origin: str = "",
    ) -> None:
        """``origin``: the input the URLs come from, as the user spelled it (MENDIX_BASE_URL)."""
        self.session = watchdog.guard(given_credentials_only(session))
        self.origin = origin
        self.deadline = deadline
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.on_retry = on_retry

    def timeout(self, doing: str) -> tuple[float, float]:
        left = self.deadline.check(doing)
        return (min(self.policy.connect_timeout, left), min(self.policy.read_timeout, left))

    def request(
        self,
        method: str,
        url: str,
        *,
        doing: str,
        repeatable: bool = False,
        json: Mapping[str, Any] | None = None,
        final_codes: frozenset[str] = frozenset(),
    ) -> requests.Response:
        """``final_codes``: Mendix error codes that end the call even on a 5xx answer.

        ``repeatable``: for a POST or PATCH whose server ignores a repeat (stopping a
        stopped environment); an idempotent method (``IDEMPOTENT``) is repeatable anyway.

        A POST, PUT or PATCH always sends a JSON body (``{}`` when ``json`` is None), so it
        always carries ``Content-Type: application/json``.

        A wait the server named (Retry-After) uses up no attempt: only the deadline
        bounds how often a rate-limited call is tried again.
        """
        if json is None and method.upper() in WITH_BODY:
            json = {}
        repeatable = repeatable or method.upper() in IDEMPOTENT
        tries = Tries(self.policy.backoff, self.deadline, self.rng)
        sent = 0
        retrying = ""
        while True:
            sent += 1
            try:
                return self._once(method, url, doing=doing, json=json, final_codes=final_codes)
            except DeadlineExceeded:
                if not retrying:
                    raise
                raise ApiUnavailable(f"{retrying} The timeout passed while retrying.") from None
            except Transient as failure:
                text = (
                    f"The Mendix API did not answer usefully while {doing} "
                    f"({failure.reason}, {sent} attempt{'s' if sent > 1 else ''})."
                )
                if failure.sent and not repeatable:
                    raise Uncertain(text) from None
                wait = tries.failed(failure.wait)
                if wait is None:
                    raise ApiUnavailable(text) from None
                if not tries.fits(wait):
                    raise ApiUnavailable(
                        f"{text} Waiting {wait:.0f}s for another try would pass the timeout."
                    ) from None
                retrying = text
                if self.on_retry is not None:
                    self.on_retry(failure.reason, wait, sent)
                self.deadline.clock.sleep(wait)

    def _once(
        self,
        method: str,
        url: str,
        *,
        doing: str,
        json: Mapping[str, Any] | None,
        final_codes: frozenset[str] = frozenset(),
    ) -> requests.Response:
        try:
            with watchdog.within(self.deadline, doing, self.policy.read_timeout):
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    timeout=self.timeout(doing),
                    allow_redirects=False,
                    stream=True,
                )
                _read_body(response, doing)
        except requests.exceptions.ContentDecodingError:
            raise ApiError(
                f"The Mendix API's answer while {doing} could not be decompressed."
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise Transient(_failure_reason(exc, self.origin), sent=not never_sent(exc)) from None
        except requests.exceptions.Timeout as exc:
            raise Transient(_failure_reason(exc), sent=not never_sent(exc)) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            raise Transient(_failure_reason(exc)) from None
        except watchdog.SlowAnswer as exc:
            raise Transient(str(exc)) from None
        if response.status_code in RETRY_STATUSES and not _carries(response, final_codes):
            wait = retry_after(response.headers.get("Retry-After"), self.deadline.clock.wall())
            response.close()
            turned_away = response.status_code == 429 or (
                response.status_code == 503 and wait is not None
            )
            raise Transient(f"HTTP {response.status_code}", wait=wait, sent=not turned_away)
        return response


def _read_body(response: requests.Response, doing: str) -> None:
    """Read the answer's body (``response.content``), at most MAX_ANSWER bytes of it once
    decompressed: past that the connection is closed unread and the call ends."""
    body = bytearray()
    for piece in response.iter_content(READ_PIECE):
        body += piece
        if len(body) > MAX_ANSWER:
            response.close()
            raise ApiError(
                f"The Mendix API's answer while {doing} is larger than "
                f"{format_size(MAX_ANSWER)}; the step read no more of it."
            )
    response._content = bytes(body)


def answer_json(response: requests.Response) -> Any:
    """The answer's JSON; ValueError saying what it is instead: not JSON, or JSON nested
    more than MAX_DEPTH deep (the parser's recursion limit, far deeper, included)."""
    too_deep = f"JSON nested more than {MAX_DEPTH} levels deep"
    try:
        data = response.json()
    except RecursionError:
        raise ValueError(too_deep) from None
    except ValueError:
        raise ValueError("not JSON") from None
    if _deeper_than(data, MAX_DEPTH):
        raise ValueError(too_deep)
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """Are arrays and objects nested more than ``limit`` levels in ``data``? (no recursion)"""
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            inner: Any = item.values()
        elif isinstance(item, list):
            inner = item
        else:
            continue
        if depth > limit:
            return True
        todo.extend((child, depth + 1) for child in inner)
    return False


def _carries(response: requests.Response, codes: frozenset[str]) -> bool:
    """Does the answer's JSON error body name one of ``codes``?"""
    if not codes:
        return False
    try:
        body = answer_json(response)
    except ValueError:
        return False
    return isinstance(body, dict) and read_error_body(body)[0] in codes


def _failure_reason(exc: BaseException, origin: str = "") -> str:
    """What went wrong, naming the host and the input its URL came from (``origin``).

    A host name the resolver says does not exist ends the call at once (HostNotFound): a
    typo never resolves, and waiting only hides it; so does a certificate that does not
    verify (UntrustedCertificate). A temporary resolver failure (a CI
    runner's DNS hiccup) is retried like any other connection failure.
    """
    host = _host(exc)
    if origin:
        host += f" (from {origin})"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection timed out: {host}"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer within the read timeout"
    failure = _resolver_failure(exc)
    if failure is not None and failure.errno in _NO_SUCH_NAME:
        raise HostNotFound(
            f"The host {host} does not exist: its name does not resolve ({failure.strerror}).",
            fix=f"correct the host name in {origin or 'the URL input'}",
        )
    if failure is not None:
        return f"the name {host} could not be resolved ({failure.strerror})"
    refused = certificate_problem(exc)
    if refused is not None:
        raise UntrustedCertificate(
            f"The certificate of {host} is not trusted: {refused}.", fix=TRUST_FIX
        )
    if never_sent(exc):
        return f"connection refused or host unreachable: {host}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off"
    return "connection lost"


class HostNotFound(ApiUnavailable):
    """The API's host name does not exist (the resolver said so): retrying cannot help."""


_NO_SUCH_NAME = frozenset(
    getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, name)
)


class UntrustedCertificate(ApiUnavailable):
    """The host's TLS certificate did not verify against the trusted CAs: retrying cannot
    help."""


TRUST_FIX = (
    "if the host, or a proxy of your network that inspects TLS, uses a certificate of a "
    "private CA, set REQUESTS_CA_BUNDLE to a PEM file with that CA's certificate (and the "
    "public CAs, if other hosts need them)"
)


def certificate_problem(exc: BaseException) -> str | None:
    """Why the server's certificate was refused, when that is what ended the connection
    behind ``exc`` (OpenSSL's words: "unable to get local issuer certificate", ...)."""
    refused = _cause(exc, ssl.SSLCertVerificationError)
    if refused is None:
        return None
    return str(refused.verify_message or refused.reason or "it does not verify").rstrip(".")


def _host(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    return (urlsplit(url).hostname or "the host") if isinstance(url, str) else "the host"


_E = TypeVar("_E", bound=BaseException)


def _resolver_failure(exc: BaseException) -> socket.gaierror | None:
    """The name-resolution error behind a connection error, if one is."""
    return _cause(exc, socket.gaierror)


def _cause(exc: BaseException, kind: type[_E]) -> _E | None:
    """The exception of ``kind`` behind ``exc``, if one is (see ``_behind``)."""
    return next((inner for inner in _behind(exc) if isinstance(inner, kind)), None)
