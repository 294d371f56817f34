"""The Mendix Build API (and the Team Server branch call) as typed Python calls.

Errors follow one rule: the HTTP status picks the exception class, the JSON
error body (errorCode, errorMessage) gives the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from ci_step import __version__
from ci_step.domain.answers import text
from ci_step.domain.ids import PACKAGE_ID
from ci_step.domain.packages import Package
from ci_step.errors import ApiError, AuthError, input_name, read_error_body
from ci_step.mendix.transport import Transport, answer_json

_SAFE_STATUS = re.compile(r"[A-Za-z]{1,32}")
USER_AGENT = f"mendix-build/{__version__}"


def token_headers(pat: str) -> dict[str, str]:
    """The headers of an API asked with a personal access token (App Repository, Pipelines)."""
    return {
        "Authorization": f"MxToken {pat}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def error_fixes() -> dict[str, str]:
    """What to do about each documented error code (made when asked: some name inputs)."""
    return {
        "INVALID_APPID": (
            f"set {input_name('app-id')} to the app's subdomain name, for example 'calc'"
        ),
        "APP_NOT_FOUND": (
            f"check {input_name('app-id')} (the subdomain name, not the project id) and that "
            "the user has API Rights on the app"
        ),
        "INVALID_PARAMETERS": (
            f"set {input_name('branch')}, {input_name('revision')} and {input_name('version')}"
        ),
        "INVALID_VERSION": (
            f"set {input_name('version')} to a major, minor and patch number, like 2.3.5"
        ),
        "PACKAGE_NOT_FOUND": "check the package id; the package may have been deleted",
        "PACKAGE_IN_USE": (
            "the package is deployed on an environment or its build is still running; "
            "deploy another package there first, or wait for the build to finish"
        ),
        "BUILD_NOT_SUCCEEDED": "only a package whose build succeeded can be downloaded",
        "BUILD_FAILED": "read the build log of the package in the Mendix Portal",
        # Deploy API v1
        "ENVIRONMENT_NOT_FOUND": (
            f"check {input_name('environment')}: Test, Acceptance, Production or the exact "
            "name of a flexible environment, as the Mendix Portal lists it"
        ),
        "INVALID_ENVIRONMENT": (
            f"check {input_name('environment')}: Test, Acceptance, Production or a flexible name"
        ),
        "TRANSPORT_NOT_ALLOWED": (
            "give the user 'Transport Rights' on this environment (Mendix Portal: the app's "
            "Environments page, Permissions tab) next to 'API Rights'"
        ),
        "NO_ACCESS": "give the user 'API Rights' and 'Transport Rights' on the app's environments",
        "APP_IS_RUNNING": "the environment was started again while deploying; re-run the deploy",
        "NOT ALLOWED": "the package could not be processed; build it again and deploy the new one",
        "INVALID_RUNTIME_VERSION": (
            "the environment does not support the package's Mendix version: upgrade the "
            "environment's stack in the Mendix Portal, or build with a supported Studio Pro version"
        ),
        "PACKAGE_PARSE_FAILED": (
            "build the package again; its file could not be read by the platform"
        ),
        "STOP_FAILED": "stop the environment in the Mendix Portal, then re-run the deploy",
        "NO_MDA_HAS_BEEN_DEPLOYED": "transport a package before starting the environment",
        "DB_SYNC_FAILED": (
            "the database could not be brought in line with the new model: read the environment "
            "log in the Mendix Portal, fix the model or the data, build and deploy again"
        ),
        "INVALID_DB_STRUCTURE": (
            f"set {input_name('auto-sync-db', 'true')}, so the database follows the model on start"
        ),
        "MISSING_CONSTANT": (
            "give every constant of the model a value on this environment (Mendix Portal: "
            "Environment Details, Model Options), then deploy again"
        ),
        "STARTUP_ACTION_FAILED": (
            "the app's after-startup microflow failed: read the environment log in the Mendix "
            "Portal"
        ),
        "START_FAILED": "read the environment log in the Mendix Portal: the runtime did not start",
        "INSECURE_ADMIN_PASSWORD": "change the password of the administrator user; '1' is refused",
        "ALREADY_LOCKED": "another action holds the environment; wait for it and deploy again",
    }


def _int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_package(data: object) -> Package:
    if not isinstance(data, dict):
        raise ApiError("The Mendix API answered with something that is not a package.")
    package_id = text(data, "PackageId")
    status = text(data, "Status")
    if not PACKAGE_ID.fullmatch(package_id) or not _SAFE_STATUS.fullmatch(status):
        raise ApiError("The Mendix API answered with a package without a valid PackageId/Status.")
    url_obj = data.get("Url")
    url = ttl = None
    if isinstance(url_obj, dict):
        url = text(url_obj, "Location") or None
        ttl = _int(url_obj, "TTL")
    return Package(
        package_id=package_id,
        status=status,
        version=text(data, "Version"),
        name=text(data, "Name"),
        description=text(data, "Description"),
        size=_int(data, "Size"),
        creation_date=_int(data, "CreationDate"),
        url=url,
        url_ttl=ttl,
    )


class BuildApi:
    def __init__(self, base_url: str, username: str, api_key: str, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")  # the origin every Mendix API call goes to
        self.root = f"{self.base_url}/api/1"
        self.transport = transport
        transport.session.headers.update(
            {
                "Mendix-Username": username,
                "Mendix-ApiKey": api_key,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    def app_url(self, app_id: str) -> str:
        return f"{self.root}/apps/{quote(app_id, safe='')}"

    def call(
        self,
        method: str,
        url: str,
        *,
        doing: str,
        repeatable: bool = False,
        json: dict[str, Any] | None = None,
        final_codes: frozenset[str] = frozenset(),
    ) -> Any:
        """One call under the v1 rules: the JSON answer, or the error its status picks.

        ``repeatable``: a POST whose server ignores a repeat (see Transport.request)."""
        response = self.transport.request(
            method,
            url,
            doing=doing,
            repeatable=repeatable,
            json=json,
            final_codes=final_codes,
        )
        return json_answer(response, doing)

    def start_build(
        self, app_id: str, branch: str, revision: str, version: str, description: str
    ) -> str:
        body = {
            "Branch": branch,
            "Revision": revision,
            "Version": version,
            "Description": description,
        }
        data = self.call(
            "POST",
            f"{self.app_url(app_id)}/packages",
            doing="starting the build",
            json=body,
        )
        package_id = data.get("PackageId") if isinstance(data, dict) else None
        if not isinstance(package_id, str) or not PACKAGE_ID.fullmatch(package_id):
            raise ApiError("The Mendix API accepted the build but returned no valid PackageId.")
        return package_id

    def get_package(self, app_id: str, package_id: str, *, with_url: bool = False) -> Package:
        query = "?url=true" if with_url else ""
        data = self.call(
            "GET",
            f"{self.app_url(app_id)}/packages/{quote(package_id, safe='')}{query}",
            doing=f"reading package {package_id}",
        )
        return parse_package(data)

    def list_packages(self, app_id: str) -> list[Package]:
        data = self.call("GET", f"{self.app_url(app_id)}/packages", doing="listing packages")
        if not isinstance(data, list):
            raise ApiError("The Mendix API answered the package list with something else.")
        return [parse_package(item) for item in data]

    def delete_package(self, app_id: str, package_id: str) -> None:
        self.call(
            "DELETE",
            f"{self.app_url(app_id)}/packages/{quote(package_id, safe='')}",
            doing=f"deleting package {package_id}",
        )

    def latest_revision(self, app_id: str, name: str) -> str:
        """The latest revision of branch ``name`` (Team Server API)."""
        data = self.call(
            "GET",
            f"{self.app_url(app_id)}/branches/{quote(name, safe='')}",
            doing=f"reading branch {name}",
        )
        if not isinstance(data, dict):
            raise ApiError("The Team Server API answered the branch call with something else.")
        revision = data.get("LatestRevisionNumber")
        if isinstance(revision, int) and not isinstance(revision, bool):
            revision = str(revision)
        if not isinstance(revision, str) or not revision:
            raise ApiError(f"The Team Server API gave no latest revision for branch {name}.")
        return revision


def json_answer(
    response: requests.Response,
    doing: str,
    fixes: Mapping[str, str] | None = None,
    refused_fix: str = "",
) -> Any:
    """The JSON of a 2xx answer (None when empty), else the error its status picks."""
    with response:
        if not 200 <= response.status_code < 300:
            raise error_for(response, doing, fixes, refused_fix or API_RIGHTS_FIX)
        if not response.content:
            return None
        try:
            return answer_json(response)
        except ValueError as exc:
            raise ApiError(
                f"The Mendix API's answer (HTTP {response.status_code}) while {doing} is {exc}."
            ) from None


API_RIGHTS_FIX = "give the user 'API Rights' on this app in the Mendix Portal (Team / Security)"


def error_details(response: requests.Response) -> tuple[str, str]:
    """(error code, 'code: message') of an error answer, from its JSON body when it has one."""
    body: Any = None
    try:
        body = answer_json(response)
    except ValueError:
        body = None
    code, text = read_error_body(body if isinstance(body, dict) else None)
    return code, f"{code}: {text}" if code and text else (code or text or "no error details")


def error_for(
    response: requests.Response,
    doing: str,
    fixes: Mapping[str, str] | None = None,
    refused_fix: str = API_RIGHTS_FIX,
) -> ApiError | AuthError:
    """The status picks the class; the error body's code and message make the text.

    ``fixes``: what to do about each error code (default: ``error_fixes()``); ``refused_fix``:
    about a 403 without one.
    """
    fixes = error_fixes() if fixes is None else fixes
    status = response.status_code
    code, detail = error_details(response)
    if status == 401:
        return AuthError(
            f"The Mendix API refused the credentials while {doing} (HTTP 401, {detail}).",
            fix=(
                f"check {input_name('username')} (the login e-mail of the key's owner) and "
                f"{input_name('api-key')}; keys stop working when their user is deactivated"
            ),
            error_code=code,
        )
    if status == 403:
        return AuthError(
            f"The Mendix API refused permission while {doing} (HTTP 403, {detail}).",
            fix=fixes.get(code, refused_fix),
            error_code=code,
        )
    if 300 <= status < 400:
        return ApiError(
            f"The Mendix API answered a redirect (HTTP {status}) while {doing}; it was not "
            "followed, so the credentials stayed with the API host.",
            status=status,
            fix=f"check {input_name('base-url')}: it must be the API root itself, such as "
            "https://deploy.mendix.com",
        )
    return ApiError(
        f"The Mendix API rejected the request while {doing} (HTTP {status}, {detail}).",
        status=status,
        error_code=code,
        fix=fixes.get(code, ""),
    )
