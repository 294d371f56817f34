"""The Deploy API v1 endpoints of api.py's table, answered by environments.py and settings.py.

``apps/{app}`` and ``apps/{app}/environments[/{mode}[/package|/stop|/transport|/start
[/{job}]|/settings|/logs/{date}]]``; scopes check the app and the environment before any
endpoint, whatever follows, as the API does. Calls with a body must say it is JSON
(``routes.json_only``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ci_step.simulator import environments as envs
from ci_step.simulator import settings
from ci_step.simulator.build_api import Handler, on_app
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.reply import Reply, error
from ci_step.simulator.routes import Call, json_only
from ci_step.simulator.state import BuildService, SimApp

_MISSING_MODE = "Not enough parameters given. Please set AppId and Mode parameters."
Answer = Callable[[BuildService, Call, SimApp, SimEnvironment], Reply]


def environment_known(service: BuildService, call: Call) -> Reply | None:
    found = find(service, call)
    return found if isinstance(found, Reply) else None


def _on_environment(answer: Answer) -> Handler:
    """A handler for ``environments/{mode}/...``: ``answer(service, call, app, environment)``."""

    def handler(service: BuildService, call: Call) -> Reply:
        found = find(service, call)
        if isinstance(found, Reply):
            return found
        return answer(service, call, *found)

    return handler


def find(service: BuildService, call: Call) -> tuple[SimApp, SimEnvironment] | Reply:
    app = service.apps.get(call.params["app"])
    if app is None:
        return error(404, "APP_NOT_FOUND", "App not found.")
    mode = call.params["mode"]
    if not mode:
        return error(400, "INVALID_PARAMETERS", _MISSING_MODE)
    environment = envs.find(app.environments, mode)
    if environment is None:
        return error(404, "ENVIRONMENT_NOT_FOUND", "Environment not found.")
    return app, environment


@on_app
def get_app(service: BuildService, call: Call, app: SimApp) -> Reply:
    return Reply(
        200, {"AppId": app.app_id, "ProjectId": app.project_id, "Name": app.name, "Url": app.url}
    )


@on_app
def list_environments(service: BuildService, call: Call, app: SimApp) -> Reply:
    now = service.sim_now()
    return Reply(200, [env.describe(now) for env in app.environments.values()])


@_on_environment
def get_environment(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    return Reply(200, environment.describe(service.sim_now()))


@_on_environment
def deployed_package(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    """With ``?url=true``, ``Url`` as the Build API gives it (``Location``, ``TTL``)."""
    now = service.sim_now()
    reply = envs.deployed_package(environment, app.packages, now)
    wanted = call.query.get("url", "false").lower() == "true"
    package = next((p for p in app.packages if p.package_id == environment.package_id), None)
    if reply.status == 200 and wanted and package and package.status(now) == "Succeeded":
        reply.body["Url"] = {"Location": service.location(package), "TTL": service.url_ttl}
    return reply


@json_only
@_on_environment
def stop(service: BuildService, call: Call, app: SimApp, environment: SimEnvironment) -> Reply:
    return envs.stop(environment, service.sim_now())


@json_only
@_on_environment
def transport(service: BuildService, call: Call, app: SimApp, environment: SimEnvironment) -> Reply:
    return envs.transport(environment, app.packages, call.json(), service.sim_now())


@json_only
@_on_environment
def start(service: BuildService, call: Call, app: SimApp, environment: SimEnvironment) -> Reply:
    return envs.start(environment, call.json(), service.sim_now())


@_on_environment
def start_job(service: BuildService, call: Call, app: SimApp, environment: SimEnvironment) -> Reply:
    return envs.job(environment, call.params["job"], service.sim_now())


@_on_environment
def get_settings(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    environment.current_status(service.sim_now())
    return Reply(200, settings.describe(environment.constants, environment.scheduled_events))


@json_only
@_on_environment
def change_settings(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    environment.current_status(service.sim_now())
    return settings.change(environment.constants, environment.scheduled_events, call.json())


@_on_environment
def log_link(service: BuildService, call: Call, app: SimApp, environment: SimEnvironment) -> Reply:
    """``logs/{YYYY-MM-DD}`` → ``{"Environment", "Date", "DownloadUrl"}``; the URL is signed,
    on the storage host. The error code of the 404 is *unverified* (the notes give none)."""
    if environment.logs_forbidden:
        return error(403, "FORBIDDEN", "You do not have access to the logs of this environment.")
    date = call.params["date"]
    if not has_log(service, environment, date):
        return error(404, "NOT_FOUND", f"No log found for {date}.")
    body: dict[str, Any] = {
        "Environment": environment.mode,
        "Date": date,
        "DownloadUrl": service.log_location(app.app_id, environment.mode, date),
    }
    return Reply(200, body)


def has_log(service: BuildService, environment: SimEnvironment, date: str) -> bool:
    """Days back to ``log_days`` have a log, today's included, unless nothing ever ran."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return False
    age = (dt.date.fromisoformat(service.today()) - day).days
    if not (0 <= age < environment.log_days and len(date) == 10):
        return False
    environment.current_status(service.sim_now())
    return environment.status != "Empty" or bool(environment.log_events)
