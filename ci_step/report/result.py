"""What the step reports: the outputs, known so far, on every outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

from ci_step.errors import StepError, exit_code_of
from ci_step.secrets import MASK

OUTPUT_NAMES: tuple[str, ...] = (
    "result",
    "package-id",
    "status",
    "version",
    "revision",
    "artifact-path",
    "artifact-sha256",
    "artifact-size",
    "duration-seconds",
    "reused",
    "environment",
    "environment-url",
    "deployed",
    "deploy-result",
    "backup-id",
    "rolled-back",
    "settings-changed",
    "tests",
    "test-failures",
    "junit-file",
    "pipeline-run-id",
    "pipeline-status",
)
# The outputs only a step that deploys fills in.
DEPLOY_OUTPUTS = frozenset(
    {
        "environment",
        "environment-url",
        "deployed",
        "deploy-result",
        "backup-id",
        "rolled-back",
        "settings-changed",
    }
)
# The outputs only the app's unit tests fill in, and those only a pipeline run does.
UNIT_TEST_OUTPUTS = frozenset({"tests", "test-failures", "junit-file"})
PIPELINE_OUTPUTS = frozenset({"pipeline-run-id", "pipeline-status"})


# The phases a step goes through, in order, as a person names them after "while".
PHASES: dict[str, str] = {
    "inputs": "reading the inputs",
    "request": "asking the Mendix API",
    "preflight": "checking the environment",
    "plan": "planning the build",
    "build": "building the package",
    "download": "downloading the package",
    "snapshot": "taking the snapshot",
    "stop": "stopping the environment",
    "transport": "transporting the package",
    "settings": "applying the settings file",
    "start": "starting the environment",
    "rollback": "rolling back",
    "unit-tests": "running the app's unit tests",
    "pipeline": "running the pipeline",
}


# Texts a secret is never cut out of (a short secret such as "true" would turn them into
# "***" or worse): the step's own words, and identifiers and hashes, which are masked only
# when the whole value is a secret (a server echoing one). Every other text is free text.
_WORDS = frozenset({"outcome", "deploy_result", "phase", "failed_phase", "command"})
_IDS = frozenset(
    {
        "package_id",
        "status",
        "version",
        "revision",
        "artifact_sha256",
        "backup_id",
        "pipeline_run_id",
        "pipeline_status",
    }
)


def output_key(name: str) -> str:
    """GitLab dotenv / Jenkins property key of an output: MENDIX_PACKAGE_ID."""
    return "MENDIX_" + name.upper().replace("-", "_")


@dataclass
class StepResult:
    outcome: str = "error"  # the result output
    package_id: str = ""
    status: str = ""
    version: str = ""
    revision: str = ""
    artifact_path: str = ""
    artifact_sha256: str = ""
    artifact_size: int | None = None
    duration_seconds: float = 0.0
    reused: bool = False
    environment: str = ""
    environment_url: str = ""
    deployed: bool = False
    # success, failure, timeout, cancelled, error, skipped; "running" only while it runs
    deploy_result: str = "skipped"
    backup_id: str = ""  # the snapshot taken before the deploy
    rolled_back: bool = False  # the package that ran before runs again
    error: StepError | None = None
    exit_code: int = 70
    settings_changes: list[str] = field(default_factory=list)  # "constant M.N: set to 50"
    log_tail: list[str] = field(default_factory=list)  # the app log's last lines, on a failed start
    on_mendix: str = ""  # what keeps going on the Mendix side if the step stops now
    # For people (the log's closing line, the step summary), not outputs:
    app_id: str = ""
    phase: str = "inputs"  # what the step is doing now: a key of PHASES
    failed_phase: str = ""  # the first phase that failed
    environment_state: str = ""  # after a failed deploy: the state it left the environment in
    summary: str = ""  # the closing line of a successful command; "" for the build step's own
    # The gates (ci_step.flow.unit_tests, ci_step.flow.pipeline_run):
    command: str = ""  # "unit-tests" or "pipeline-run" for those commands; "" otherwise
    tests: int | None = None  # the unit tests the app knows, once a run completed
    test_failures: int | None = None
    junit_file: str = ""  # the JUnit report, relative to the workspace
    failed_tests: list[str] = field(default_factory=list)  # "Module.Test: error (step: s)"
    pipeline_run_id: str = ""
    pipeline_status: str = ""  # CREATED, RUNNING, SUCCEEDED or FAILED, as last seen

    def enter(self, phase: str) -> None:
        """The step starts ``phase`` (a key of PHASES)."""
        self.phase = phase

    def phase_failed(self) -> None:
        """The phase under way failed; the first one to fail is the one kept."""
        self.failed_phase = self.failed_phase or self.phase

    def succeed(self) -> None:
        self.outcome = "success"
        self.error = None
        self.exit_code = 0

    def fail(self, error: StepError) -> None:
        self.phase_failed()
        if self.deploy_result == "running":  # the error ended the deploy too
            self.deploy_result = error.result
        self.outcome = error.result
        self.error = error
        self.exit_code = exit_code_of(error)

    @property
    def unit_tests_ran(self) -> bool:
        """Did the step run the app's unit tests (or try to)?"""
        return self.tests is not None or "unit-tests" in (self.phase, self.failed_phase)

    def unused_outputs(self) -> frozenset[str]:
        """The outputs of a gate that took no part in this step (the unit tests, a pipeline
        run): empty, and left out where outputs are counted (GitLab's dotenv report)."""
        unused = frozenset() if self.unit_tests_ran else UNIT_TEST_OUTPUTS
        return unused if self.command == "pipeline-run" else unused | PIPELINE_OUTPUTS

    @property
    def settings_changed(self) -> int:
        """How many constants and scheduled events the deploy changed."""
        return len(self.settings_changes)

    def redacted(self, clean: Callable[[str], str]) -> StepResult:
        """A copy whose free texts passed ``clean``: what any format may render next.

        Numbers, Booleans and the step's own words stay as they are; an identifier or a
        hash is masked whole when it is a secret, never in part."""
        copy = replace(self, error=None if self.error is None else self.error.redacted(clean))
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in _WORDS:
                continue
            if item.name in _IDS:
                setattr(copy, item.name, MASK if clean(value) == MASK else value)
            elif isinstance(value, str):
                setattr(copy, item.name, clean(value))
            elif isinstance(value, list):
                setattr(copy, item.name, [clean(text) for text in value])
        return copy

    def outputs(self) -> dict[str, str]:
        size = "" if self.artifact_size is None else str(self.artifact_size)
        return {
            "result": self.outcome,
            "package-id": self.package_id,
            "status": self.status,
            "version": self.version,
            "revision": self.revision,
            "artifact-path": self.artifact_path,
            "artifact-sha256": self.artifact_sha256,
            "artifact-size": size,
            "duration-seconds": f"{self.duration_seconds:.1f}",
            "reused": "true" if self.reused else "false",
            "environment": self.environment,
            "environment-url": self.environment_url,
            "deployed": "true" if self.deployed else "false",
            "deploy-result": self.deploy_result,
            "backup-id": self.backup_id,
            "rolled-back": "true" if self.rolled_back else "false",
            "settings-changed": str(self.settings_changed),
            "tests": _number(self.tests),
            "test-failures": _number(self.test_failures),
            "junit-file": self.junit_file,
            "pipeline-run-id": self.pipeline_run_id,
            "pipeline-status": self.pipeline_status,
        }

    def document(self) -> dict[str, object]:
        """The JSON result: outputs with native types, the exit code and the error."""
        doc: dict[str, object] = dict(self.outputs())
        doc["artifact-size"] = self.artifact_size
        doc["duration-seconds"] = round(self.duration_seconds, 1)
        doc["reused"] = self.reused
        doc["deployed"] = self.deployed
        doc["rolled-back"] = self.rolled_back
        doc["settings-changed"] = self.settings_changed
        doc["tests"] = self.tests
        doc["test-failures"] = self.test_failures
        doc["exit-code"] = self.exit_code
        doc["error"] = (
            None
            if self.error is None
            else {
                "message": self.error.message,
                "fix": self.error.fix,
                "docs": self.error.docs,
                "error-code": self.error.error_code or None,
                "log-tail": self.log_tail or None,
            }
        )
        doc["settings-changes"] = self.settings_changes
        doc["failed-tests"] = self.failed_tests
        return doc


def _number(value: int | None) -> str:
    return "" if value is None else str(value)
