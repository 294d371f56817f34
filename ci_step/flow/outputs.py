"""Text from the API that becomes an output is checked like the values the step makes
itself: a later job may source an output file in its shell (GitLab's dotenv report). What
fails the check gives an empty output and a warning, never the text."""

from __future__ import annotations

from ci_step.config.parsers import shown
from ci_step.domain.hosts import is_plain_https_url
from ci_step.domain.versions import is_package_version
from ci_step.log import Log


def version_output(version: str, log: Log) -> str:
    """A package's Version from the API, for the version output."""
    if not version or is_package_version(version):
        return version
    log.warning(
        f"The Mendix API gave the version {shown(version)}, not major.minor.patch: "
        "the version output is left empty"
    )
    return ""


def url_output(url: str, log: Log) -> str:
    """An environment's Url from the Deploy API, for the environment-url output."""
    if not url or is_plain_https_url(url):
        return url
    log.warning(
        f"The Deploy API gave the environment URL {shown(url)}, not a plain https URL: "
        "the environment-url output is left empty"
    )
    return ""
