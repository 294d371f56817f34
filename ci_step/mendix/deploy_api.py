"""The Deploy API v1 calls a deploy needs, on the Build API's session and error rules."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ci_step.domain.answers import text
from ci_step.domain.app_settings import EnvironmentSettings, parse_settings
from ci_step.domain.ids import API_ID
from ci_step.domain.provenance import built_from
from ci_step.errors import ApiError
from ci_step.mendix.build_api import BuildApi

# 5xx answers that are the API's verdict, not a hiccup: never retried.
START_REFUSALS = frozenset(
    {"NO_MDA_HAS_BEEN_DEPLOYED", "APP_ALREADY_HAS_A_STARTING_JOB", "ALREADY_STARTED"}
)
START_FAILURES = frozenset(
    {
        "NO_PACKAGE",
        "ALREADY_LOCKED",
        "ALREADY_STARTED",
        "DB_SYNC_FAILED",
        "INVALID_DB_STRUCTURE",
        "MISSING_CONSTANT",
        "INSECURE_ADMIN_PASSWORD",
        "STARTUP_ACTION_FAILED",
        "START_FAILED",
    }
)
STILL_PROCESSING = "SERVICE UNAVAILABLE"  # 503 "MDA is still being processed, retry later"
TRANSPORT_FAILURES = frozenset({"PACKAGE_PARSE_FAILED", STILL_PROCESSING})
STOP_FAILURES = frozenset({"STOP_FAILED"})
SETTINGS_FAILURES = frozenset({"INVALID_SCHEDULED_EVENT_PARAMETER"})  # a 500 that is a verdict


@dataclass(frozen=True)
class EnvironmentInfo:
    """An environment as the Deploy API describes it."""

    status: str  # Empty, Stopped or Running
    url: str
    production: bool
    environment_id: str = ""  # EnvironmentId, what the Backups API names it by; "" if absent


@dataclass(frozen=True)
class DeployedPackage:
    """The package an environment holds."""

    package_id: str
    version: str
    name: str = ""
    description: str = ""

    @property
    def built_from(self) -> str:
        """The revision it was built from, as its Name and Description tell ('': unknown)."""
        return built_from(self.name, self.description, self.version)


class DeployApi:
    def __init__(self, api: BuildApi) -> None:
        self.api = api

    def _environment(self, app_id: str, mode: str) -> str:
        return f"{self.api.app_url(app_id)}/environments/{quote(mode, safe='')}"

    def get_environment(self, app_id: str, mode: str) -> EnvironmentInfo:
        data = self.api.call(
            "GET", self._environment(app_id, mode), doing=f"reading environment {mode}"
        )
        if not isinstance(data, dict) or not text(data, "Status"):
            raise ApiError(f"The Deploy API answered environment {mode} without a Status.")
        environment_id = text(data, "EnvironmentId")
        return EnvironmentInfo(
            status=text(data, "Status"),
            url=text(data, "Url"),
            production=data.get("Production") is True,
            environment_id=environment_id if API_ID.fullmatch(environment_id) else "",
        )

    def get_app(self, app_id: str) -> str:
        """The app's ProjectId: the id the v2 APIs (backups) name it by."""
        data = self.api.call("GET", self.api.app_url(app_id), doing=f"reading app {app_id}")
        project_id = text(data, "ProjectId") if isinstance(data, dict) else ""
        if not API_ID.fullmatch(project_id):
            raise ApiError(f"The Deploy API answered app {app_id} without a valid ProjectId.")
        return project_id

    def deployed_package(self, app_id: str, mode: str) -> DeployedPackage | None:
        """The package the environment holds; None when it holds none."""
        try:
            data = self.api.call(
                "GET",
                f"{self._environment(app_id, mode)}/package",
                doing=f"reading the package on environment {mode}",
            )
        except ApiError as exc:
            if exc.error_code == "PACKAGE_NOT_FOUND":
                return None
            raise
        package_id = text(data, "PackageId") if isinstance(data, dict) else ""
        if not isinstance(data, dict) or not API_ID.fullmatch(package_id):
            return None
        return DeployedPackage(
            package_id, text(data, "Version"), text(data, "Name"), text(data, "Description")
        )

    def get_settings(self, app_id: str, mode: str) -> EnvironmentSettings:
        """The environment's constants and scheduled events, as the next start will use them."""
        data = self.api.call(
            "GET",
            f"{self._environment(app_id, mode)}/settings",
            doing=f"reading the settings of environment {mode}",
        )
        return parse_settings(data, mode)

    def set_settings(self, app_id: str, mode: str, collection: dict[str, Any]) -> None:
        """Write the whole collection back (see EnvironmentSettings.body); the next start
        takes it. Writing the same values twice changes nothing: safe to repeat."""
        self.api.call(
            "POST",
            f"{self._environment(app_id, mode)}/settings",
            doing=f"changing the settings of environment {mode}",
            repeatable=True,
            json=collection,
            final_codes=SETTINGS_FAILURES,
        )

    def log_url(self, app_id: str, mode: str, day: datetime.date) -> str:
        """The signed DownloadUrl of the environment's log of ``day`` (UTC)."""
        data = self.api.call(
            "GET",
            f"{self._environment(app_id, mode)}/logs/{day.isoformat()}",
            doing=f"asking for the log of environment {mode}",
        )
        url = text(data, "DownloadUrl") if isinstance(data, dict) else ""
        if not url:  # whether it may be followed is the download's check
            raise ApiError(f"The Deploy API gave no DownloadUrl for the log of {mode}.")
        return url

    def stop(self, app_id: str, mode: str) -> None:
        # Stopping a stopped environment changes nothing: safe to repeat.
        self.api.call(
            "POST",
            f"{self._environment(app_id, mode)}/stop",
            doing=f"stopping environment {mode}",
            repeatable=True,
            final_codes=STOP_FAILURES,
        )

    def transport(self, app_id: str, mode: str, package_id: str) -> None:
        # Transporting the same package twice leaves the same package: safe to repeat.
        self.api.call(
            "POST",
            f"{self._environment(app_id, mode)}/transport",
            doing=f"transporting package {package_id} to {mode}",
            repeatable=True,
            json={"PackageId": package_id},
            final_codes=TRANSPORT_FAILURES,
        )

    def start(self, app_id: str, mode: str, auto_sync_db: bool) -> str | None:
        """The start job's id; None when the environment was already running."""
        data = self.api.call(
            "POST",
            f"{self._environment(app_id, mode)}/start",
            doing=f"starting environment {mode}",
            json={"AutoSyncDb": auto_sync_db},
            final_codes=START_REFUSALS,
        )
        if isinstance(data, dict) and data.get("errorCode") == "ALREADY_STARTED":
            return None  # the reference answers this one with HTTP 200
        job = data.get("JobId") if isinstance(data, dict) else None
        if not isinstance(job, str) or not job:
            raise ApiError(f"The Deploy API accepted the start of {mode} but gave no JobId.")
        return job

    def start_url(self, app_id: str, mode: str, job_id: str) -> str:
        """Where the start job ``job_id`` is read (GET)."""
        return f"{self._environment(app_id, mode)}/start/{quote(job_id, safe='')}"

    def start_status(self, app_id: str, mode: str, job_id: str) -> str:
        data = self.api.call(
            "GET",
            self.start_url(app_id, mode, job_id),
            doing=f"reading the start of environment {mode}",
            final_codes=START_FAILURES,
        )
        status = text(data, "Status") if isinstance(data, dict) else ""
        if not status:
            raise ApiError(f"The Deploy API answered the start job of {mode} without a Status.")
        return status
