"""What the environment says about the CI we run in: which one, its workspace, its run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import quote

# The variables in which a CI hands the job its own credentials (GitHub Actions, GitLab,
# Azure Pipelines, Bitbucket, CircleCI, Buildkite). GitLab's CI_REPOSITORY_URL holds the
# job token too. Nothing the step reads from the environment may copy them elsewhere.
CI_TOKENS = frozenset(
    {
        "GITHUB_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CI_JOB_TOKEN",
        "CI_BUILD_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V1",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "CI_DEPLOY_PASSWORD",
        "CI_DEPENDENCY_PROXY_PASSWORD",
        "CI_REPOSITORY_URL",
        "SYSTEM_ACCESSTOKEN",
        "BITBUCKET_STEP_OIDC_TOKEN",
        "CIRCLE_OIDC_TOKEN",
        "CIRCLE_OIDC_TOKEN_V2",
        "BUILDKITE_AGENT_ACCESS_TOKEN",
    }
)


class Platform(Enum):
    GITHUB = "github"
    GITLAB = "gitlab"
    JENKINS = "jenkins"
    AZURE = "azure"
    LOCAL = "local"


def is_azure_job(env: Mapping[str, str]) -> bool:
    """An Azure Pipelines job: the agent sets ``TF_BUILD=True`` for every process it
    starts, and inside a container job the agent's launcher sets it again for the step
    (``AGENT_CONTAINERID`` is there only in a container job, so it cannot tell)."""
    return env.get("TF_BUILD", "").lower() == "true"


def is_jenkins_build(env: Mapping[str, str]) -> bool:
    """A Jenkins build, by what every build has: ``BUILD_TAG`` is
    ``jenkins-<job>-<BUILD_NUMBER>``.

    ``JENKINS_URL`` will not do: Jenkins sets it only when its root URL is configured, and
    the Jenkins CLI reads it from developers' shells. Nor will ``JENKINS_HOME``: inside
    ``agent { docker }`` a variable the agent's own process has with the same value is left
    out. The tag and the number belong to the build, so they always arrive; a shell where
    both are set and agree is a Jenkins build's.
    """
    number, tag = env.get("BUILD_NUMBER", ""), env.get("BUILD_TAG", "")
    return (
        number.isascii()
        and number.isdigit()
        and tag.startswith("jenkins-")
        and tag.endswith(f"-{number}")
        and len(tag) > len("jenkins--") + len(number)
    )


@dataclass(frozen=True)
class CiEnv:
    platform: Platform
    env: Mapping[str, str]

    @classmethod
    def detect(cls, env: Mapping[str, str] | None = None) -> CiEnv:
        env = dict(os.environ if env is None else env)
        if env.get("GITHUB_ACTIONS") == "true":
            return cls(Platform.GITHUB, env)
        if env.get("GITLAB_CI") == "true":
            return cls(Platform.GITLAB, env)
        if is_azure_job(env):
            return cls(Platform.AZURE, env)
        if is_jenkins_build(env):
            return cls(Platform.JENKINS, env)
        return cls(Platform.LOCAL, env)

    def get(self, name: str) -> str:
        return self.env.get(name, "")

    @property
    def workspace(self) -> Path:
        """Where relative paths are resolved: the CI's checkout, else the working directory."""
        names = {
            Platform.GITHUB: ("GITHUB_WORKSPACE",),
            Platform.GITLAB: ("CI_PROJECT_DIR",),
            Platform.JENKINS: ("WORKSPACE",),
            Platform.AZURE: ("BUILD_SOURCESDIRECTORY", "SYSTEM_DEFAULTWORKINGDIRECTORY"),
        }.get(self.platform, ())
        value = next((self.get(name) for name in names if self.get(name)), "")
        return Path(value) if value else Path.cwd()

    @property
    def azure_decodes_percents(self) -> bool:
        """Does the Azure agent read ``%AZP25`` in a logging command as ``%``? Yes, unless
        the job sets the variable ``DECODE_PERCENTS`` to anything the agent does not read
        as true (it reads an unset or empty one as its default, true)."""
        return self.get("DECODE_PERCENTS").lower() in ("", "1", "true", "$true")

    def run_description(self) -> str:
        """A package description that names this CI run, when the CI tells us."""
        if self.platform is Platform.GITHUB:
            repo, run_id = self.get("GITHUB_REPOSITORY"), self.get("GITHUB_RUN_ID")
            server = self.get("GITHUB_SERVER_URL") or "https://github.com"
            if repo and run_id:
                workflow = self.get("GITHUB_WORKFLOW") or "workflow"
                number = self.get("GITHUB_RUN_NUMBER")
                label = f"{workflow} #{number}" if number else workflow
                return f"GitHub Actions {label}: {server}/{repo}/actions/runs/{run_id}"
        if self.platform is Platform.GITLAB:
            url, pipeline = self.get("CI_PIPELINE_URL"), self.get("CI_PIPELINE_ID")
            if url or pipeline:
                return f"GitLab pipeline {pipeline}: {url}".rstrip(": ")
        if self.platform is Platform.JENKINS:
            tag, url = self.get("BUILD_TAG"), self.get("BUILD_URL")
            if tag or url:
                return f"Jenkins {tag}: {url}".rstrip(": ")
        if self.platform is Platform.AZURE:
            return self._azure_run() or "Built by mendix-build"
        return "Built by mendix-build"

    def _azure_run(self) -> str:
        """``Azure Pipelines <pipeline> #<run number>: <the run's results page>``."""
        pipeline, number = self.get("BUILD_DEFINITIONNAME"), self.get("BUILD_BUILDNUMBER")
        collection, project = self.get("SYSTEM_COLLECTIONURI"), self.get("SYSTEM_TEAMPROJECT")
        build_id = self.get("BUILD_BUILDID")
        url = ""
        if collection and project and build_id:
            url = (
                f"{collection.rstrip('/')}/{quote(project, safe='')}"
                f"/_build/results?buildId={quote(build_id, safe='')}"
            )
        if not (pipeline or number or url):
            return ""
        head = " ".join(part for part in (pipeline, f"#{number}" if number else "") if part)
        text = f"Azure Pipelines {head}" if head else "Azure Pipelines"
        return f"{text}: {url}" if url else text
