"""The Mendix Pipelines API: ``POST api/v1/apps/{appId}/runs`` and
``GET api/v1/apps/{appId}/runs/{runId}/status``, ``appId`` being the app's project id.

A run is ``CREATED`` for ``created_seconds``, then ``RUNNING`` for ``running_seconds``, then
its pipeline's outcome, ``SUCCEEDED`` or ``FAILED`` (simulated seconds). A pipeline must be
activated to be started. The token is the service's PAT, with the scopes ``scopes`` holds.
Errors are ``{"error": {"code", "message", "invalid-params": [{"name", "reason"}]}}``; which
status and code the API gives for each refusal is *unverified* (the notes give the shape
only): 401 without the token, 403 without the scope, 404 for an unknown app, pipeline or
run, 400 with ``invalid-params`` for a missing pipelineId or one not activated.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_step.simulator.reply import Reply
from ci_step.simulator.routes import Call

if TYPE_CHECKING:
    from ci_step.simulator.state import BuildService

WRITE, READ = "mx:pipelines:write", "mx:pipelines:read"
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


@dataclass
class SimPipeline:
    pipeline_id: str
    name: str = ""
    outcome: str = SUCCEEDED  # how its runs end: SUCCEEDED or FAILED
    activated: bool = True


@dataclass
class SimPipelineRun:
    run_id: str
    project_id: str
    pipeline: SimPipeline
    created_at: float


@dataclass
class PipelineService:
    """The pipelines of each app (by project id) and their runs."""

    pipelines: dict[str, dict[str, SimPipeline]] = field(default_factory=dict)
    runs: dict[str, SimPipelineRun] = field(default_factory=dict)
    scopes: set[str] = field(default_factory=lambda: {WRITE, READ})
    created_seconds: float = 0.5
    running_seconds: float = 2.0
    triggered_by: str = "demo@example.com"

    def add(self, project_id: str, pipeline_id: str, **options: Any) -> SimPipeline:
        pipeline = SimPipeline(pipeline_id, **options)
        pipeline.name = pipeline.name or pipeline_id.replace("-", " ").capitalize()
        self.pipelines.setdefault(project_id, {})[pipeline_id] = pipeline
        return pipeline

    def status(self, run: SimPipelineRun, now: float) -> str:
        age = now - run.created_at
        if age < self.created_seconds:
            return "CREATED"
        if age < self.created_seconds + self.running_seconds:
            return "RUNNING"
        return run.pipeline.outcome


def _error(status: int, code: str, message: str, **invalid: str) -> Reply:
    body: dict[str, Any] = {"code": code, "message": message}
    if invalid:
        body["invalid-params"] = [{"name": k, "reason": v} for k, v in invalid.items()]
    return Reply(status, {"error": body})


def authorised(service: BuildService, call: Call) -> Reply | None:
    if service.pat and call.headers.get("authorization") == f"MxToken {service.pat}":
        return None
    return _error(401, "UNAUTHORIZED", "Invalid or missing personal access token.")


def _scope(service: BuildService, scope: str) -> Reply | None:
    if scope in service.pipelines.scopes:
        return None
    return _error(403, "FORBIDDEN", f"The personal access token lacks the scope {scope}.")


def start_run(service: BuildService, call: Call) -> Reply:
    refused = _scope(service, WRITE)
    if refused is not None:
        return refused
    project = call.params["project"]
    known = service.pipelines.pipelines.get(project)
    if known is None and not any(a.project_id == project for a in service.apps.values()):
        return _error(404, "NOT_FOUND", "App not found.")
    try:
        data = json.loads(call.body or b"null")
    except ValueError:
        data = None
    pipeline_id = data.get("pipelineId") if isinstance(data, dict) else None
    if not isinstance(pipeline_id, str) or not pipeline_id:
        return _error(400, "INVALID_REQUEST", "Invalid request.", pipelineId="is required")
    pipeline = (known or {}).get(pipeline_id)
    if pipeline is None:
        return _error(404, "NOT_FOUND", "Pipeline not found.")
    if not pipeline.activated:
        return _error(
            400, "INVALID_REQUEST", "Invalid request.", pipelineId="The pipeline is not activated."
        )
    run = SimPipelineRun(str(uuid.uuid4()), project, pipeline, service.sim_now())
    service.pipelines.runs[run.run_id] = run
    body = {
        "id": run.run_id,
        "pipelineId": pipeline.pipeline_id,
        "pipelineName": pipeline.name,
        "triggeredBy": {"email": service.pipelines.triggered_by},
    }
    return Reply(201, body, {"Content-Location": f"apps/{project}/runs/{run.run_id}"})


def run_status(service: BuildService, call: Call) -> Reply:
    refused = _scope(service, READ)
    if refused is not None:
        return refused
    run = service.pipelines.runs.get(call.params["run"])
    if run is None or run.project_id != call.params["project"]:
        return _error(404, "NOT_FOUND", "Run not found.")
    status = service.pipelines.status(run, service.sim_now())
    return Reply(200, {"runId": run.run_id, "status": status})
