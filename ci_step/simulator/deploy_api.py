"""The Deploy API v1 endpoints of api.py's table, answered by environments.py.

``apps/{app}/environments[/{mode}[/package|/stop|/transport|/start[/{job}]]]``; scopes
check the app and the environment before any endpoint, whatever follows, as the API does.
"""

from __future__ import annotations

from collections.abc import Callable

from ci_step.simulator import environments as envs
from ci_step.simulator.build_api import Handler, on_app
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.reply import Reply, error
from ci_step.simulator.routes import Call
from ci_step.simulator.state import BuildService, SimApp

_MISSING_MODE = "Not enough parameters given. Please set AppId and Mode parameters."
Answer = Callable[[Call, SimApp, SimEnvironment, float], Reply]


def environment_known(service: BuildService, call: Call) -> Reply | None:
    found = _find(service, call)
    return found if isinstance(found, Reply) else None


def _on_environment(answer: Answer) -> Handler:
    """A handler for ``environments/{mode}/...``: ``answer(call, app, environment, now)``."""

    def handler(service: BuildService, call: Call) -> Reply:
        found = _find(service, call)
        if isinstance(found, Reply):
            return found
        return answer(call, *found, service.sim_now())

    return handler


def _find(service: BuildService, call: Call) -> tuple[SimApp, SimEnvironment] | Reply:
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
def list_environments(service: BuildService, call: Call, app: SimApp) -> Reply:
    now = service.sim_now()
    return Reply(200, [env.describe(now) for env in app.environments.values()])


get_environment = _on_environment(lambda call, app, env, now: Reply(200, env.describe(now)))
deployed_package = _on_environment(
    lambda call, app, env, now: envs.deployed_package(env, app.packages, now)
)
stop = _on_environment(lambda call, app, env, now: envs.stop(env, now))
transport = _on_environment(
    lambda call, app, env, now: envs.transport(env, app.packages, call.json(), now)
)
start = _on_environment(lambda call, app, env, now: envs.start(env, call.json(), now))
start_job = _on_environment(lambda call, app, env, now: envs.job(env, call.params["job"], now))
