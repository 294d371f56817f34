"""The App Repository API: the branch head, asked with a personal access token.

It has its own session: the token goes only to this host, the Mendix headers never do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ci_step.errors import ApiError
from ci_step.mendix.build_api import USER_AGENT, error_for
from ci_step.mendix.transport import Transport


def repository_branch(branch: str) -> str:
    """The Git branch name for a Build API branch: 'branches/feature' -> 'feature'."""
    return branch.removeprefix("branches/")


class RepositoryApi:
    def __init__(self, base_url: str, pat: str, transport: Transport) -> None:
        self.root = f"{base_url.rstrip('/')}/v1"
        self.transport = transport
        transport.session.headers.update(
            {
                "Authorization": f"MxToken {pat}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    def latest_commit(self, project_id: str, branch: str) -> str:
        name = repository_branch(branch)
        doing = f"reading branch {name} from the App Repository API"
        url = (
            f"{self.root}/repositories/{quote(project_id, safe='')}/branches/{quote(name, safe='')}"
        )
        response = self.transport.request("GET", url, doing=doing, idempotent=True)
        with response:
            if not 200 <= response.status_code < 300:
                raise error_for(response, doing)
            try:
                data: Any = response.json()
            except ValueError:
                data = None
        commit = data.get("latestCommit") if isinstance(data, dict) else None
        commit_id = commit.get("id") if isinstance(commit, dict) else None
        if not isinstance(commit_id, str) or not commit_id:
            raise ApiError(f"The App Repository API gave no latest commit for branch {name}.")
        return commit_id
