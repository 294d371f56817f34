"""The Unit Testing module's remote API, served by the app itself at ``<app URL>/unittests/``.

Two calls, both ``POST`` with ``{"password": "…"}``: ``start`` (204; 400 while another run
is still running) and ``status`` (200 with the run's JSON; 400 "No testrun was started
yet" before any start since the app started). A wrong password is 401; a body without
``password`` is 400; only POST is served (405); a path the module does not know, or an app
where the module's handler is not registered, is 404. Error bodies are plain text.

The password goes to the app's URL and nowhere else: the session is this API's own (no
Mendix header, no token), and a redirect is never followed (see ci_step.mendix.transport).
"""

from __future__ import annotations

from typing import Any

import requests

from ci_step.domain.answers import neutral
from ci_step.domain.unit_tests import RunStatus, parse_status
from ci_step.errors import ApiError, AuthError, input_name
from ci_step.mendix.build_api import USER_AGENT
from ci_step.mendix.transport import Transport, answer_json

BUSY = "another test run is still running"  # start: "Cannot start a test run while ..."
NOT_STARTED = "No testrun was started yet"  # status, before any start since the app started
DOCS = "https://docs.mendix.com/appstore/modules/unit-testing/"


def setup_fix() -> str:
    """What makes an app serve the remote API."""
    return (
        "set the constants UnitTesting.Enabled and UnitTesting.RemoteApiEnabled to true and "
        "UnitTesting.RemoteApiPassword to a password on the environment, make sure the "
        "module's Startup microflow (UnitTesting.Startup) runs in the app's after-startup "
        "microflow, and restart the app; on Mendix Cloud also open the path /unittests/ in "
        "the environment's request handlers (Environment Details, Network tab)"
    )


class UnitTestsApi:
    def __init__(self, app_url: str, password: str, transport: Transport) -> None:
        self.app_url = app_url.rstrip("/")
        self.root = f"{self.app_url}/unittests"
        self.password = password
        self.transport = transport
        transport.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def start(self) -> bool:
        """Start a run of every test suite; False when another run is still running."""
        doing = "starting the app's unit tests"
        response = self._post("start", doing, repeatable=False)
        with response:
            if 200 <= response.status_code < 300:
                return True
            if response.status_code == 400 and BUSY in _text(response):
                return False
            raise self._error(response, doing)

    def status(self) -> RunStatus | None:
        """The run's status; None when no run was started since the app started."""
        doing = "reading the status of the app's unit tests"
        response = self._post("status", doing, repeatable=True)  # reading changes nothing
        with response:
            if response.status_code == 400 and NOT_STARTED in _text(response):
                return None
            if response.status_code != 200:
                raise self._error(response, doing)
            try:
                data: Any = answer_json(response)
            except ValueError as exc:
                raise ApiError(
                    f"The app's answer while {doing} is {exc}, not a test run's status.",
                    fix=f"check that {self.app_url} is the app's root URL",
                ) from None
        return parse_status(data)

    def _post(self, command: str, doing: str, *, repeatable: bool) -> requests.Response:
        return self.transport.request(
            "POST",
            f"{self.root}/{command}",
            doing=doing,
            repeatable=repeatable,
            json={"password": self.password},
        )

    def _error(self, response: requests.Response, doing: str) -> ApiError | AuthError:
        """The error an answer other than the expected ones is."""
        status = response.status_code
        detail = f"HTTP {status}" + (f": {text}" if (text := _text(response)) else "")
        password = input_name("unit-tests-password")
        if status == 401:
            return AuthError(
                f"The app refused the unit-test password ({password}) while {doing} ({detail}).",
                fix=f"set {password} to the value of the constant UnitTesting.RemoteApiPassword "
                "on this environment (Environment Details, Model Options)",
                docs=DOCS,
            )
        if status == 403:
            return AuthError(
                f"The app refused access to /unittests/ while {doing} ({detail}).",
                fix="open the path /unittests/ in the environment's request handlers "
                "(Environment Details, Network tab) for the address the CI runs from",
                docs=DOCS,
            )
        if status == 404:
            return ApiError(
                f"The app at {self.app_url} does not serve the Unit Testing module's remote "
                f"API ({doing} answered {detail}).",
                status=status,
                fix=setup_fix(),
                docs=DOCS,
            )
        if 300 <= status < 400:
            return ApiError(
                f"The app answered a redirect (HTTP {status}) while {doing}; it was not "
                "followed, so the password went nowhere else.",
                status=status,
                fix=f"set {input_name('unit-tests-url')} to the app's root URL itself, with https",
            )
        return ApiError(
            f"The app rejected the request while {doing} ({detail}).",
            status=status,
            fix="only POST with the password is served at /unittests/start and "
            f"/unittests/status; check that {self.app_url} is the app's root URL"
            if status == 405
            else "",
            docs=DOCS,
        )


def _text(response: requests.Response) -> str:
    """The start of a plain-text error body, made printable."""
    return neutral(response.content[:400].decode("utf-8", "replace"), 200)
