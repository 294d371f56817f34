"""The App Repository API: ``GET /v1/repositories/{ProjectId}/branches/{name}``."""

from __future__ import annotations

from ci_step.simulator.reply import Reply, error
from ci_step.simulator.routes import Call
from ci_step.simulator.state import BuildService


def authorised(service: BuildService, call: Call) -> Reply | None:
    """A personal access token, as ``Authorization: MxToken <PAT>``."""
    if service.pat and call.headers.get("authorization") == f"MxToken {service.pat}":
        return None
    return error(401, "UNAUTHORIZED", "Invalid or missing personal access token.")


def get_branch(service: BuildService, call: Call) -> Reply:
    project, name = call.params["project"], call.params["branch"]
    app = next((a for a in service.apps.values() if a.project_id == project), None)
    if app is None:
        return error(404, "REPOSITORY_NOT_FOUND", "Repository not found.")
    heads = {branch.removeprefix("branches/"): rev for branch, rev in app.branches.items()}
    if name not in heads:
        return error(404, "BRANCH_NOT_FOUND", "Branch not found.")
    return Reply(
        200,
        {
            "name": name,
            "latestCommit": {
                "id": heads[name],
                "author": {"name": "Dev"},
                "date": "2026-11-01T10:00:00Z",
                "message": "Commit from Studio Pro",
            },
        },
    )
