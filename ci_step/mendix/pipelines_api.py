"""The Mendix Pipelines API: start a run of a pipeline, read its status.

``POST /api/v1/apps/{appId}/runs`` with ``{"pipelineId"}`` (scope ``mx:pipelines:write``)
answers 201 with the run's ``id``; ``GET /api/v1/apps/{appId}/runs/{runId}/status`` (scope
``mx:pipelines:read``) answers ``{"runId", "status"}``: ``CREATED``, ``RUNNING``,
``SUCCEEDED`` or ``FAILED``. ``appId`` is the app's project id. Errors are
``{"error": {"code", "message", "invalid-params": [{"name", "reason"}]}}``.

Its own session: the personal access token goes only to this host. The status URL is made
from the run id, never from the 201's ``Content-Location``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from ci_step.domain.answers import neutral
from ci_step.domain.ids import PIPELINE_ID
from ci_step.errors import ApiError, AuthError, input_name, read_error_body
from ci_step.mendix.build_api import token_headers
from ci_step.mendix.transport import Transport, answer_json

WRITE_SCOPE = "mx:pipelines:write"
READ_SCOPE = "mx:pipelines:read"
IN_PROGRESS = frozenset({"CREATED", "RUNNING"})
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
DOCS = "https://docs.mendix.com/apidocs-mxsdk/apidocs/pipelines-api/"
_STATUS = re.compile(r"[A-Z][A-Z_]{0,31}")


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    pipeline_name: str  # printable, for the log ("" when not given)


class PipelinesApi:
    def __init__(self, base_url: str, pat: str, transport: Transport) -> None:
        self.root = f"{base_url.rstrip('/')}/api/v1"
        self.transport = transport
        transport.session.headers.update(token_headers(pat))

    def _app(self, project_id: str) -> str:
        return f"{self.root}/apps/{quote(project_id, safe='')}"

    def start_run(self, project_id: str, pipeline_id: str) -> PipelineRun:
        """Start a run; never sent twice (a lost answer may have started one, and runs
        cannot be listed to find it)."""
        doing = f"starting a run of pipeline {pipeline_id}"
        data = self._call(
            "POST", f"{self._app(project_id)}/runs", doing, WRITE_SCOPE, {"pipelineId": pipeline_id}
        )
        run_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(run_id, str) or not PIPELINE_ID.fullmatch(run_id):
            raise ApiError("The Mendix Pipelines API started a run but gave no valid run id.")
        name = neutral(data.get("pipelineName"), 200)
        return PipelineRun(run_id, name)

    def run_status(self, project_id: str, run_id: str) -> str:
        doing = f"reading the status of pipeline run {run_id}"
        url = f"{self._app(project_id)}/runs/{quote(run_id, safe='')}/status"
        data = self._call("GET", url, doing, READ_SCOPE)
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, str) or not _STATUS.fullmatch(status):
            raise ApiError(f"The Mendix Pipelines API gave run {run_id} no valid status.")
        return status

    def _call(
        self,
        method: str,
        url: str,
        doing: str,
        scope: str,
        body: dict[str, Any] | None = None,
    ) -> Any:
        response = self.transport.request(method, url, doing=doing, json=body)
        with response:
            if not 200 <= response.status_code < 300:
                raise _error(response, doing, scope)
            try:
                return answer_json(response)
            except ValueError as exc:
                raise ApiError(
                    f"The Mendix Pipelines API's answer (HTTP {response.status_code}) while "
                    f"{doing} is {exc}."
                ) from None


def _details(response: requests.Response) -> tuple[str, str]:
    """(error code, 'code: message; name: reason') of an error answer."""
    try:
        body: Any = answer_json(response)
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else None
    code, text = read_error_body(body)
    nested = body.get("error") if body else None
    params = nested.get("invalid-params") if isinstance(nested, dict) else None
    reasons = [
        f"{item.get('name')}: {item.get('reason')}"
        for item in (params if isinstance(params, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(
        filter(None, [f"{code}: {text}" if code and text else code or text, *reasons])
    )
    return neutral(code, 64), neutral(detail, 400) or "no error details"


def _error(response: requests.Response, doing: str, scope: str) -> ApiError | AuthError:
    status = response.status_code
    code, detail = _details(response)
    pat = input_name("pat")
    if status in (401, 403):
        return AuthError(
            f"The Mendix Pipelines API refused the personal access token ({pat}) while "
            f"{doing} (HTTP {status}, {detail}).",
            fix=f"give {pat} the scopes {WRITE_SCOPE} and {READ_SCOPE} (Mendix Portal: User "
            "Settings, Personal Access Tokens; a token's scopes are set when it is made) and "
            "its user access to the app's pipelines; it must be neither expired nor revoked",
            error_code=code,
            docs=DOCS,
        )
    if status == 404:
        return ApiError(
            f"The Mendix Pipelines API found no such app or pipeline while {doing} "
            f"(HTTP 404, {detail}).",
            status=status,
            error_code=code,
            fix=f"check {input_name('project-id')} (the app's project id, from its General "
            f"Settings) and {input_name('pipeline-id')} (a saved and activated pipeline)",
            docs=DOCS,
        )
    if 300 <= status < 400:
        return ApiError(
            f"The Mendix Pipelines API answered a redirect (HTTP {status}) while {doing}; it "
            "was not followed, so the token stayed with the API host.",
            status=status,
            fix=f"check {input_name('pipelines-url')}: it must be the API root itself, such "
            "as https://pipeline-portal.home.mendix.com",
        )
    return ApiError(
        f"The Mendix Pipelines API rejected the request while {doing} (HTTP {status}, {detail}).",
        status=status,
        error_code=code,
        fix="check that the pipeline is saved and activated" if status in (400, 409, 422) else "",
        docs=DOCS,
    )
