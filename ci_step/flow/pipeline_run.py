"""`mendix-build pipeline-run`: start a run of a Mendix Pipelines pipeline and wait for it.

The run is started once (a lost answer may have started it, and runs cannot be listed to
find it: the step then says so rather than start a second one), its id printed, and its
status read on the polling schedule until ``SUCCEEDED`` or ``FAILED``, within timeout.
FAILED is exit 1; a status the step does not know ends the wait (exit 5) rather than
waiting for it until the timeout. Mendix ends a run after 3 hours at most.
"""

from __future__ import annotations

from ci_step.config.validate import Config
from ci_step.errors import (
    ApiError,
    ApiUnavailable,
    DeadlineExceeded,
    PipelineFailed,
    input_name,
)
from ci_step.flow.poll import Poll, poll
from ci_step.flow.services import Services
from ci_step.mendix.pipelines_api import (
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    PipelineRun,
    PipelinesApi,
)
from ci_step.mendix.transport import Uncertain
from ci_step.report.result import StepResult
from ci_step.units import Seconds, format_duration


def run_pipeline(config: Config, services: Services, result: StepResult) -> None:
    result.command = "pipeline-run"
    result.enter("pipeline")
    api = _api(config, services)
    run = _start(api, config, services)
    result.pipeline_run_id, result.pipeline_status = run.run_id, "CREATED"
    services.out.write(run.run_id + "\n")
    services.out.flush()
    name = f" ({run.pipeline_name})" if run.pipeline_name else ""
    services.log.info(f"Pipeline run started{name}", run_id=run.run_id)
    result.on_mendix = f"pipeline run {run.run_id} goes on at Mendix"
    status = _wait(api, config, services, result)
    result.on_mendix = ""
    if status == FAILED:
        raise PipelineFailed(f"Run {run.run_id} of pipeline {config.pipeline_id} ended FAILED.")
    result.summary = f"Run {run.run_id} of pipeline {config.pipeline_id} ended SUCCEEDED"
    result.succeed()


def _api(config: Config, services: Services) -> PipelinesApi:
    transport = services.transport(input_name("pipelines-url"), "Mendix Pipelines API")
    return PipelinesApi(config.pipelines_url, config.pat or "", transport)


def _start(api: PipelinesApi, config: Config, services: Services) -> PipelineRun:
    services.log.info("Starting a pipeline run", pipeline_id=config.pipeline_id)
    try:
        return api.start_run(config.project_id, config.pipeline_id)
    except Uncertain as exc:
        raise ApiUnavailable(
            f"{exc.message} A run of pipeline {config.pipeline_id} may have started; runs "
            "cannot be listed through the API, so the step does not start another.",
            fix="look at the app's Pipelines page in the Mendix Portal before running the job "
            "again",
        ) from None


def _wait(api: PipelinesApi, config: Config, services: Services, result: StepResult) -> str:
    """Read the run's status until it ends; the last status (SUCCEEDED or FAILED)."""
    clock, run_id = services.clock, result.pipeline_run_id
    started = clock.now()

    def changed(_status: str, status: str) -> bool:
        result.pipeline_status = status
        services.log.info(f"Pipeline run status: {status}", after=Seconds(clock.now() - started))
        return True

    def ended(status: str) -> bool:
        if status in (SUCCEEDED, FAILED):
            return True
        if status not in IN_PROGRESS:
            raise ApiError(
                f"The Mendix Pipelines API gave run {run_id} the status {status}; the step "
                "knows CREATED, RUNNING, SUCCEEDED and FAILED, so it stopped waiting.",
                fix="look at the run on the app's Pipelines page in the Mendix Portal",
            )
        return False

    def late(status: str) -> DeadlineExceeded:
        return _late(services, run_id, status)

    run = Poll(lambda: api.run_status(config.project_id, run_id), str, changed, ended)
    what = f"pipeline run {run_id}"
    return poll(run, services.deadline, services.log, what, config.poll_interval, late)


def _late(services: Services, run_id: str, status: str) -> DeadlineExceeded:
    seconds = format_duration(services.deadline.seconds)
    return DeadlineExceeded(
        f"The timeout of {seconds} passed while pipeline run {run_id} was "
        f"{status or 'not yet reported'}; the run goes on at Mendix (it ends within 3 hours).",
        fix=f"raise {input_name('timeout')}, or follow the run on the app's Pipelines page",
    )
