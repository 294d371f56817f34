"""The API listener's endpoints, one row each: Build API, Deploy API v1, Backups API v2,
App Repository, Mendix Pipelines.

Scopes come first and check every request under their path, in order: credentials,
then the app, then the package or environment a path names. To add an endpoint, add a
row here and write its handler.
"""

from __future__ import annotations

from ci_step.simulator import backups, pipelines, repository
from ci_step.simulator import build_api as build
from ci_step.simulator import deploy_api as deploy
from ci_step.simulator.reply import Reply
from ci_step.simulator.routes import Call, Route, Router, Scope
from ci_step.simulator.state import BuildService

APP = "api/1/apps/{app}"
PACKAGE = f"{APP}/packages/{{package}}"
ENVIRONMENT = f"{APP}/environments/{{mode}}"
BACKUPS = "api/v2/apps/{project}/environments/{environment}"
RUNS = "api/v1/apps/{project}/runs"

API: Router[BuildService] = Router(
    [
        Scope("api/1", build.authorised),
        Scope(APP, build.app_allowed),
        Scope(PACKAGE, build.package_known),
        Scope(f"{APP}/environments", build.app_known),
        Scope(ENVIRONMENT, deploy.environment_known),
        Scope("api/v2", build.authorised),
        Scope(BACKUPS, backups.environment_known),
        Scope("v1/repositories", repository.authorised),
        Scope("api/v1", pipelines.authorised),
        # Build API
        Route("GET", f"{APP}/packages", build.list_packages),
        Route("POST", f"{APP}/packages", build.start_build),
        Route("GET", PACKAGE, build.get_package),
        Route("DELETE", PACKAGE, build.delete_package),
        Route("GET", f"{PACKAGE}/download", build.download),
        Route("GET", f"{APP}/branches", build.list_branches),
        Route("GET", f"{APP}/branches/{{branch}}", build.get_branch),
        # Deploy API v1
        Route("GET", APP, deploy.get_app),
        Route("GET", f"{APP}/environments", deploy.list_environments),
        Route("GET", ENVIRONMENT, deploy.get_environment),
        Route("GET", f"{ENVIRONMENT}/package", deploy.deployed_package),
        Route("POST", f"{ENVIRONMENT}/stop", deploy.stop),
        Route("POST", f"{ENVIRONMENT}/transport", deploy.transport),
        Route("POST", f"{ENVIRONMENT}/start", deploy.start),
        Route("GET", f"{ENVIRONMENT}/start/{{job}}", deploy.start_job),
        Route("GET", f"{ENVIRONMENT}/settings", deploy.get_settings),
        Route("POST", f"{ENVIRONMENT}/settings", deploy.change_settings),
        Route("GET", f"{ENVIRONMENT}/logs/{{date}}", deploy.log_link),
        # Backups API v2
        Route("GET", f"{BACKUPS}/snapshots", backups.list_snapshots),
        Route("POST", f"{BACKUPS}/snapshots", backups.create_snapshot),
        Route("GET", f"{BACKUPS}/snapshots/{{snapshot}}", backups.get_snapshot),
        Route("POST", f"{BACKUPS}/restores", backups.create_restore),
        Route("GET", f"{BACKUPS}/restores/{{restore}}", backups.get_restore),
        # App Repository API
        Route("GET", "v1/repositories/{project}/branches/{branch}", repository.get_branch),
        # Mendix Pipelines API
        Route("POST", RUNS, pipelines.start_run),
        Route("GET", f"{RUNS}/{{run}}/status", pipelines.run_status),
    ]
)


def answer(service: BuildService, call: Call) -> Reply:
    with service.lock:
        return API.dispatch(service, call)
