"""The App Repository API: the branch head, asked with a personal access token.

It has its own session: the token goes only to this host, the Mendix headers never do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from ci_step.errors import ApiError, AuthError, input_name
from ci_step.mendix.build_api import error_details, error_for, token_headers
from ci_step.mendix.transport import Transport, answer_json

SCOPE = "mx:modelrepository:repo:read"


def repository_branch(branch: str) -> str:
    """The Git branch name for a Build API branch: 'branches/feature' -> 'feature'."""
    return branch.removeprefix("branches/")


class RepositoryApi:
    def __init__(self, base_url: str, pat: str, transport: Transport) -> None:
        self.root = f"{base_url.rstrip('/')}/v1"
        self.transport = transport
        transport.session.headers.update(token_headers(pat))

    def latest_commit(self, project_id: str, branch: str) -> str:
        name = repository_branch(branch)
        doing = f"reading branch {name} from the App Repository API"
        url = (
            f"{self.root}/repositories/{quote(project_id, safe='')}/branches/{quote(name, safe='')}"
        )
        response = self.transport.request("GET", url, doing=doing)
        with response:
            if not 200 <= response.status_code < 300:
                raise _refused(response, doing) or error_for(response, doing)
            try:
                data: Any = answer_json(response)
            except ValueError:
                data = None
        commit = data.get("latestCommit") if isinstance(data, dict) else None
        commit_id = commit.get("id") if isinstance(commit, dict) else None
        if not isinstance(commit_id, str) or not commit_id:
            raise ApiError(f"The App Repository API gave no latest commit for branch {name}.")
        return commit_id


def _refused(response: requests.Response, doing: str) -> AuthError | None:
    """A 401 or 403: the personal access token was refused (never the API key)."""
    status = response.status_code
    if status not in (401, 403):
        return None
    code, detail = error_details(response)
    pat = input_name("pat")
    if status == 401:
        return AuthError(
            f"The App Repository API refused the personal access token ({pat}) while {doing} "
            f"(HTTP 401, {detail}).",
            fix=f"check {pat} (a personal access token, from the Mendix Portal's User "
            f"Settings): it needs the scope {SCOPE} and must be neither expired nor revoked",
            error_code=code,
        )
    return AuthError(
        f"The App Repository API refused the personal access token ({pat}) permission while "
        f"{doing} (HTTP 403, {detail}).",
        fix=f"give the token the scope {SCOPE} and its user access to the app; check that "
        f"{input_name('project-id')} is the app's project id",
        error_code=code,
    )
