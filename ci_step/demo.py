"""`mendix-build demo`: the whole step against the in-process simulator, from the build
to a deploy on the simulated Acceptance environment: a snapshot first, a settings file
applied after the transport.

Shows what each CI would receive: GitHub's output file and step summary,
GitLab's dotenv report, Jenkins' properties and JSON, and the .mda itself.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from pathlib import Path

import click

from ci_step.config.inputs import INPUTS
from ci_step.config.validate import RawInput
from ci_step.report import publish
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.runner import Surroundings, execute
from ci_step.simulator.backup_jobs import BackupTimes
from ci_step.simulator.run import build_service
from ci_step.simulator.server import Simulator

DEMO_USER = "demo@example.com"
DEMO_SETTINGS = """\
constants:
  MyFirstModule.PageSize: '50'
scheduled-events:
  MyFirstModule.NightlyCleanup: Enabled
"""


def run_demo(keep: str | None) -> int:
    api_key = secrets.token_hex(16)
    service = build_service(
        username=DEMO_USER,
        api_key=api_key,
        apps=("calc",),
        durations=(0.5, 1.5, 0.5),
        package_size=256 * 1024,
    )
    revision = service.apps["calc"].branches["main"]
    service.apps["calc"].environments["Acceptance"].start_seconds = 1.0
    service.backup_times = BackupTimes(queued=0.5, snapshot=1.0, restore=1.0)
    workspace = Path(keep or tempfile.mkdtemp(prefix="mendix-build-demo-")).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "acceptance.yml").write_text(DEMO_SETTINGS, encoding="utf-8")
    with Simulator(service) as simulator:
        click.echo(
            f"Simulated Build and Deploy API at {simulator.base_url}; workspace {workspace}\n"
        )
        values = {
            "app-id": "calc",
            "username": DEMO_USER,
            "api-key": api_key,
            "branch": "main",
            "revision": revision[:12],
            "version": "1.0.0",
            "description": "mendix-build demo",
            "base-url": simulator.base_url,
            "poll-interval": "0.5",
            "timeout": "2m",
            "artifact-path": "calc-1.0.0.mda",  # in the workspace: the working directory
            "result-file": "result.json",
            "environment": "Acceptance",
            "backup": "true",  # a snapshot before the deploy (auto: production only)
            "settings-file": "acceptance.yml",
        }
        raw = {
            spec.name: RawInput(values.get(spec.name, spec.default), spec.name) for spec in INPUTS
        }
        files = {
            "GitHub Actions $GITHUB_OUTPUT": workspace / "github_output",
            "GitHub Actions $GITHUB_STEP_SUMMARY": workspace / "step_summary.md",
            "GitLab CI dotenv report": workspace / publish.DOTENV_NAME,
            "Jenkins readProperties file": workspace / publish.PROPERTIES_NAME,
            "Jenkins JSON": workspace / publish.JSON_NAME,
            "result-file": workspace / "result.json",
        }
        writes = (
            publish.github_writes(
                files["GitHub Actions $GITHUB_OUTPUT"], files["GitHub Actions $GITHUB_STEP_SUMMARY"]
            )
            + publish.gitlab_writes(workspace)
            + publish.jenkins_writes(workspace)
        )
        with contextlib.chdir(workspace):
            where = Surroundings(CiEnv(Platform.LOCAL, {}), extra_writes=tuple(writes))
            code = execute(raw, None, where=where)
    for title, path in files.items():
        click.echo(f"\n--- {title} ({path.name}) ---")
        click.echo(path.read_text(encoding="utf-8").rstrip() if path.exists() else "(not written)")
    click.echo(f"\nExit code: {code}")
    if not keep:
        shutil.rmtree(workspace, ignore_errors=True)
    return code
