"""The app listener: each environment's app, at ``/{app}/{mode}/``, serving the Unit Testing
module's remote API at ``/{app}/{mode}/unittests/``.

As the module's ``RemoteApiServlet`` answers: only POST (405, no body, for any other method,
whatever the path); ``start`` and ``status``, else 404; the body must be a JSON object (else
500: the servlet leaves org.json's exception to the runtime, *unverified* how it answers);
no ``password`` key is 400, a wrong one 401 "Invalid password provided"; ``start`` is 204, or
400 while a run is still running; ``status`` is 200 with the run's JSON (indented by four,
as ``toString(4)`` writes it), or 400 "No testrun was started yet". Error bodies are plain
text. An app whose module is not enabled has no handler: ``/unittests/`` is the runtime's
404. An environment that does not run answers 503 with an HTML page (*unverified*: what
Mendix Cloud shows in front of a stopped app).
"""

from __future__ import annotations

import json

from ci_step.simulator import environments as envs
from ci_step.simulator.reply import Reply
from ci_step.simulator.routes import Call
from ci_step.simulator.state import BuildService
from ci_step.simulator.unit_tests import UnitTesting

NOT_RUNNING = b"<html><body><h1>Application is not running</h1></body></html>"
NOT_FOUND = b"<html><body><h1>404 Not Found</h1></body></html>"
HTML = {"Content-Type": "text/html"}
JSON = {"Content-Type": "application/json"}
BUSY = "Cannot start a test run while another test run is still running"
NOT_STARTED = "No testrun was started yet"
NO_KEY = "No 'password' attribute found in the JSON body. Please provide a password"
REFUSED = "Invalid password provided"


def answer(service: BuildService, call: Call) -> Reply:
    with service.lock:
        return _answer(service, call)


def _answer(service: BuildService, call: Call) -> Reply:
    app = service.apps.get(call.parts[0]) if call.parts else None
    environment = (
        envs.find(app.environments, call.parts[1]) if app and len(call.parts) > 1 else None
    )
    if environment is None:
        return Reply(404, NOT_FOUND, HTML.copy())
    now = service.sim_now()
    if environment.current_status(now) != "Running":
        return Reply(503, NOT_RUNNING, HTML.copy())
    module = environment.unit_testing
    rest = call.parts[2:]
    if not rest or rest[0] != "unittests" or not module.enabled:
        return Reply(404, NOT_FOUND, HTML.copy())
    return _servlet(module, call, "/".join(rest[1:]), now)


def _text(status: int, text: str) -> Reply:
    return Reply(status, text.encode("utf-8"))


def _servlet(module: UnitTesting, call: Call, path: str, now: float) -> Reply:
    if call.method != "POST":
        return Reply(405, b"")
    if path not in ("start", "status"):
        return Reply(404, b"")
    try:
        data = json.loads(call.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict) or ("password" in data and not isinstance(data["password"], str)):
        return _text(500, "Internal Server Error")
    if "password" not in data:
        return _text(400, NO_KEY)
    if data["password"] != module.password:
        return _text(401, REFUSED)
    if path == "start":
        if module.running(now):
            return _text(400, BUSY)
        module.start(now)
        return Reply(204, b"")
    status = module.status(now)
    if status is None:
        return _text(400, NOT_STARTED)
    return Reply(200, json.dumps(status, indent=4).encode("utf-8"), JSON.copy())
