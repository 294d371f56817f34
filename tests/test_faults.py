"""The fault-injection suite: each fault ends in success with the exact package bytes and
one build, or in the documented exit code with outputs written and nothing partial on disk.

Runs that finish in a second or two use the real entrypoint; faults whose handling waits
(backoff, deadlines) run the same code in-process on the fake clock."""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ci_step.clock import Deadline
from ci_step.errors import ApiUnavailable, DeadlineExceeded, DownloadError
from ci_step.flow.build import start_build
from ci_step.mendix import download
from ci_step.simulator import BuildService, Fault, SimPackage, Simulator, content
from tests.conftest import (
    ENTRYPOINT,
    Run,
    base_env,
    inputs,
    mendix_env,
    run_entrypoint,
    run_local,
    simulate_inputs,
    simulate_process,
)
from tests.rig import Rig, plan_of

SIZE = 200_000


def assert_exact_success(run: Run, service: BuildService) -> None:
    """Exit 0, exactly one build, the exact bytes under the final name and nothing else."""
    assert run.code == 0, run.stderr
    (package,) = service.apps["calc"].packages
    mda = run.workspace / "calc-1.2.3.mda"
    digest = hashlib.sha256(mda.read_bytes()).hexdigest()
    assert digest == content.sha256(package.seed, SIZE)
    document = json.loads(run.file("result.json"))
    assert document["artifact-sha256"] == digest
    assert document["artifact-size"] == SIZE
    assert sorted(p.name for p in run.workspace.iterdir()) == ["calc-1.2.3.mda", "result.json"]


def gaps(sim: Simulator, listener: str = "api", method: str = "GET") -> list[float]:
    times = [r.at for r in sim.requests(listener, method)]
    return [b - a for a, b in itertools.pairwise(times)]


# -- the API side --------------------------------------------------------------------


def test_429_with_retry_after_seconds(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("status", method="GET", status=429, retry_after="1", times=2))
    result = run_local(sim, workspace)
    assert_exact_success(result, service)
    first_three = sim.requests("api", "GET")[:3]
    assert [r.fault for r in first_three] == ["status", "status", ""]
    assert min(gaps(sim)[:2]) >= 0.95
    assert "retrying" in result.stderr
    assert "HTTP 429" in result.stderr


def test_429_with_retry_after_http_date(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    sim.add_fault(Fault("status", method="GET", status=429, retry_after=when))
    assert_exact_success(run_local(sim, workspace), service)
    assert gaps(sim)[0] >= 0.9


@pytest.mark.parametrize("header", ["\u00b2", "soon", "-5"])
def test_429_with_a_retry_after_that_is_no_time_falls_back_to_the_backoff(
    header: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("status", method="GET", status=429, retry_after=header, times=2))
    result = run_local(sim, workspace)
    assert_exact_success(result, service)
    assert [r.fault for r in sim.requests("api", "GET")[:3]] == ["status", "status", ""]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_gateway_errors_with_html_bodies_are_retried(
    status: int, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("status", method="GET", status=status, times=2))
    assert_exact_success(run_local(sim, workspace), service)
    assert [r.fault for r in sim.requests("api", "GET")[:3]] == ["status", "status", ""]


def test_connection_reset_on_reads_is_retried(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("reset", method="GET", times=2))
    assert_exact_success(run_local(sim, workspace), service)


@pytest.mark.parametrize(
    ("kind", "processed", "posts"), [("status", True, 1), ("reset", True, 1), ("reset", False, 2)]
)
def test_failed_start_never_creates_two_builds(
    kind: str,
    processed: bool,
    posts: int,
    sim: Simulator,
    service: BuildService,
    workspace: Path,
) -> None:
    sim.add_fault(Fault(kind, method="POST", status=503, process=processed))
    result = run_local(sim, workspace)
    assert_exact_success(result, service)
    assert len(sim.requests("api", "POST")) == posts
    assert "looking for the build" in result.stderr


# -- the start request --------------------------------------------------------------------


def test_rate_limited_start_posts_again_after_the_asked_wait(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("status", method="POST", status=429, retry_after="1", times=2))
    result = run_local(sim, workspace)
    assert_exact_success(result, service)
    assert [r.fault for r in sim.requests("api", "POST")] == ["status", "status", ""]
    assert min(gaps(sim, method="POST")) >= 0.95
    assert "HTTP 429" in result.stderr
    assert "looking for the build" not in result.stderr


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limited_start_spends_no_uncertain_try(rig: Rig, status: int) -> None:
    """429, or 503 with Retry-After: the request was not processed; no search, no guess."""
    rig.sim.add_fault(Fault("status", method="POST", status=status, retry_after="1", times=2))
    config = rig.config()
    package_id = start_build(plan_of(config), rig.services(config))
    assert [p.package_id for p in rig.service.apps["calc"].packages] == [package_id]
    assert len(rig.sim.requests("api", "POST")) == 3
    assert rig.clock.sleeps == [1.0, 1.0]
    assert len(rig.sim.requests("api", "GET")) == 1  # the list taken before the POST


@pytest.mark.parametrize("offset", [-600.0, 0.0, 600.0])
def test_lost_start_answer_is_found_whatever_the_server_clock(rig: Rig, offset: float) -> None:
    rig.service.clock_offset = offset
    rig.sim.add_fault(Fault("status", method="POST", status=503, process=True))
    config = rig.config()
    package_id = start_build(plan_of(config), rig.services(config))
    assert [p.package_id for p in rig.service.apps["calc"].packages] == [package_id]
    assert len(rig.sim.requests("api", "POST")) == 1


def test_server_clock_ten_minutes_behind_still_one_build(workspace: Path) -> None:
    options = ("--queued", "0", "--building", "0.2", "--uploading", "0", "--clock-offset", "-600")
    fault = ("--fault", "status:method=POST,status=503,process=true")
    with simulate_process(*options, *fault) as (_, base):
        values = simulate_inputs(base)
        run = run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace)
        listed = requests.get(
            f"{base}/api/1/apps/calc/packages",
            headers={"Mendix-Username": "demo@example.com", "Mendix-ApiKey": "demo-api-key"},
            timeout=10,
        ).json()
    assert run.code == 0, run.stderr
    assert "Found the build started by that request" in run.stderr
    (package,) = listed
    assert package["CreationDate"] / 1000 < time.time() - 590


def test_older_package_of_the_same_version_is_not_taken_for_the_new_build(rig: Rig) -> None:
    old = rig.service.seed_package("calc", "1.0.0", status="Failed", age_seconds=0)
    rig.sim.add_fault(Fault("status", method="POST", status=503))  # nothing was created
    config = rig.config()
    package_id = start_build(plan_of(config), rig.services(config))
    assert package_id != old.package_id
    assert [p.package_id for p in rig.service.apps["calc"].packages] == [old.package_id, package_id]
    assert len(rig.sim.requests("api", "POST")) == 2


def test_build_listed_late_is_found_before_posting_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server may list the build a lost request started only a while later."""
    rig.sim.add_fault(Fault("status", method="POST", status=502))
    late: list[SimPackage] = []
    sleep = rig.clock.sleep

    def sleep_while_the_server_catches_up(seconds: float) -> None:
        sleep(seconds)
        if not late:
            late.append(rig.service.seed_package("calc", "1.0.0", "Queued", age_seconds=0))

    monkeypatch.setattr(rig.clock, "sleep", sleep_while_the_server_catches_up)
    config = rig.config()
    assert start_build(plan_of(config), rig.services(config)) == late[0].package_id
    assert len(rig.sim.requests("api", "POST")) == 1
    assert len(rig.service.apps["calc"].packages) == 1


def test_start_tries_are_bounded_by_the_deadline(rig: Rig) -> None:
    rig.sim.add_fault(Fault("reset", method="POST", times=5))
    config = rig.config(timeout="2m")
    package_id = start_build(plan_of(config), rig.services(config))
    assert [p.package_id for p in rig.service.apps["calc"].packages] == [package_id]
    assert len(rig.sim.requests("api", "POST")) == 6
    assert len(rig.clock.sleeps) == 5


def test_start_that_never_gets_through_stops_before_the_deadline(rig: Rig) -> None:
    rig.sim.add_fault(Fault("reset", method="POST", times=-1))
    config = rig.config(timeout="2m")
    services = rig.services(config)
    with pytest.raises(ApiUnavailable, match="would pass the timeout"):
        start_build(plan_of(config), services)
    assert rig.clock.now() - services.deadline.started <= 120
    assert rig.service.apps["calc"].packages == []
    assert len(rig.sim.requests("api", "POST")) > 3


def test_slow_answer_beyond_read_timeout_is_retried(rig: Rig) -> None:
    rig.sim.add_fault(Fault("delay", method="GET", delay=1.0))
    services = rig.services(rig.config(), read_timeout=0.3)
    assert services.api.list_packages("calc") == []
    assert len(rig.sim.requests("api", "GET")) == 2


def test_stuck_build_ends_at_the_deadline(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].stuck_builds = True
    result = run_local(sim, workspace, timeout="1")
    assert result.code == 4
    document = json.loads(result.file("result.json"))
    assert (document["result"], document["status"]) == ("timeout", "Queued")
    assert len(service.apps["calc"].packages) == 1
    assert sim.requests("storage") == []
    assert [p.name for p in workspace.iterdir()] == ["result.json"]


# -- one deadline for every byte ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["trickle", "slow-headers"])
@pytest.mark.parametrize("listener", ["api", "storage"])
def test_answer_trickling_in_ends_at_the_deadline(
    listener: str, kind: str, sim: Simulator, workspace: Path
) -> None:
    """Each byte comes well within the read timeout; the whole answer would take minutes."""
    path = r"/packages/[^/]+$" if listener == "api" else None
    sim.add_fault(Fault(kind, listener=listener, method="GET", path=path, delay=0.2, times=-1))
    started = time.monotonic()
    result = run_local(sim, workspace, timeout="3s")
    elapsed = time.monotonic() - started
    assert result.code == 4, result.stderr
    assert elapsed < 3 + 5
    assert result.result()["result"] == "timeout"
    assert "The timeout of 3" in result.stderr
    assert [p.name for p in workspace.iterdir()] == ["result.json"]


def test_api_answer_slower_than_the_read_timeout_is_asked_again(rig: Rig) -> None:
    """A trickling answer is cut at the read timeout (not the step's whole deadline) and the
    read is retried like any answer that came too late."""
    package = rig.service.seed_package("calc", "1.0.0")
    path = r"/packages/[^/]+$"
    rig.sim.add_fault(Fault("trickle", method="GET", path=path, delay=0.2, times=1))
    services = rig.services(rig.config(), read_timeout=1.0)
    assert services.api.get_package("calc", package.package_id).status == "Succeeded"
    assert len(rig.sim.requests("api", "GET", path)) == 2


# -- the download ------------------------------------------------------------------------


def test_cut_download_resumes_with_range(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("truncate", listener="storage", after_bytes=SIZE // 2))
    assert_exact_success(run_local(sim, workspace), service)
    first, second = sim.requests("storage")
    assert "range" not in first.headers
    assert second.headers["range"] == f"bytes={SIZE // 2}-"


def test_repeated_cuts_still_end_with_exact_bytes(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("truncate", listener="storage", after_bytes=30_000, times=4))
    assert_exact_success(run_local(sim, workspace), service)
    ranges = [r.headers.get("range") for r in sim.requests("storage")]
    assert ranges == [None, "bytes=30000-", "bytes=60000-", "bytes=90000-", "bytes=120000-"]


def test_server_ignoring_ranges_means_a_fresh_start(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("truncate", listener="storage", after_bytes=SIZE // 2))
    sim.add_fault(Fault("ignore-range", listener="storage"))
    result = run_local(sim, workspace)
    assert_exact_success(result, service)
    assert "ignored the range request; starting over" in result.stderr


def step_args(service: BuildService, command: str) -> tuple[str, ...]:
    """How the package is fetched: by the default step, which builds version 1.2.3 and then
    asks for its location, or by `download ID` of an existing 1.2.3, whose one answer
    carries the location."""
    if command == "run":
        return ()
    return ("download", service.seed_package("calc", "1.2.3").package_id)


@pytest.mark.parametrize("command", ["run", "download"])
def test_location_expired_before_download_is_refreshed(
    command: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("expire", listener="storage"))
    result = run_local(sim, workspace, *step_args(service, command))
    assert_exact_success(result, service)
    assert len(sim.requests("api", "GET", path=r"/packages/[^/]+$")) >= 2
    assert [r.query.get("url") for r in sim.requests("api", "GET")].count("true") == 2
    assert "asking for a new one" in result.stderr


def test_location_expiring_during_download_is_refreshed_and_resumed(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("expire", listener="storage", after_bytes=50_000))
    assert_exact_success(run_local(sim, workspace), service)
    storage = sim.requests("storage")
    assert [r.headers.get("range") for r in storage] == [None, "bytes=50000-", "bytes=50000-"]
    assert storage[1].path == storage[0].path  # the old location, refused
    assert storage[2].path != storage[0].path  # a fresh one


def test_deprecated_download_call_is_never_used(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("redirect", path=r"/download$", location="http://127.0.0.2:9/x", times=-1))
    assert_exact_success(run_local(sim, workspace), service)
    assert sim.requests(path=r"/download$") == []


def test_simulator_redirects_download_to_another_origin(sim: Simulator) -> None:
    sim.add_fault(Fault("redirect", path=r"/download$", location="http://127.0.0.2:9/x"))
    response = requests.get(
        f"{sim.base_url}/api/1/apps/calc/packages/x/download", allow_redirects=False, timeout=10
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.2:9/x"


def test_download_failure_exits_6_and_leaves_nothing(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("status", listener="storage", status=404))
    result = run_local(sim, workspace)
    assert result.code == 6
    assert json.loads(result.file("result.json"))["exit-code"] == 6
    assert [p.name for p in workspace.iterdir()] == ["result.json"]


def test_storage_redirects_are_checked_and_followed_hop_by_hop(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    # Without a location the simulator redirects to the request's own path (relative).
    sim.add_fault(Fault("redirect", listener="storage", status=307, times=10))
    assert_exact_success(run_local(sim, workspace), service)
    assert [r.fault for r in sim.requests("storage")] == ["redirect"] * 10 + [""]


@pytest.mark.parametrize(
    ("location", "said"),
    [
        ("file:///etc/passwd", "Redirect 1 of the download goes to file://;"),
        ("ftp://127.0.0.1/x.mda", "Redirect 1 of the download goes to ftp://127.0.0.1;"),
        ("http://mendix-storage.invalid/x.mda", "goes to http://mendix-storage.invalid;"),
        ("http://[::1/x", "Redirect 1 of the download is not a URL"),
        ("", "redirected the download more than 10 times"),  # to itself, without end
    ],
)
def test_refused_storage_redirect_exits_6_and_leaves_nothing(
    location: str, said: str, sim: Simulator, workspace: Path
) -> None:
    sim.add_fault(Fault("redirect", listener="storage", location=location, times=-1))
    result = run_local(sim, workspace)
    assert result.code == 6, result.stderr
    assert said in result.stderr
    assert "not followed" in result.stderr
    assert result.result()["result"] == "error"
    assert [p.name for p in workspace.iterdir()] == ["result.json"]
    assert len(sim.requests("storage")) == (11 if not location else 1)


@pytest.mark.parametrize("command", ["run", "download"])
@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "http://mendix-storage.invalid/x.mda", "//x", "https://"]
)
def test_refused_package_location_exits_6_without_a_storage_request(
    location: str, command: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("location", path=r"/packages/[^/]+$", location=location, times=-1))
    result = run_local(sim, workspace, *step_args(service, command))
    assert result.code == 6, result.stderr
    assert "The package location from the Mendix API" in result.stderr
    assert "not followed" in result.stderr
    assert sim.requests("storage") == []
    assert [p.name for p in workspace.iterdir()] == ["result.json"]


@pytest.mark.parametrize("size_reported", [True, False])
def test_error_page_instead_of_the_package_exits_6_and_leaves_nothing(
    size_reported: bool, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """An S3-style XML error page padded to the package's Size, answered 200."""
    service.apps["calc"].reports_size = size_reported
    sim.add_fault(Fault("not-zip", listener="storage"))
    result = run_local(sim, workspace)
    assert result.code == 6, result.stderr
    assert "not a deployment package" in result.stderr
    assert [p.name for p in workspace.iterdir()] == ["result.json"]
    assert len(sim.requests("storage")) == 1


def test_package_without_size_is_verified_as_a_zip(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].reports_size = False
    assert_exact_success(run_local(sim, workspace), service)


# -- the download, on the fake clock ------------------------------------------------------


def succeeded_location(rig: Rig) -> tuple[str, int]:
    package = rig.service.seed_package("calc", "1.0.0", size=SIZE)
    services = rig.services(rig.config())
    described = services.api.get_package("calc", package.package_id, with_url=True)
    assert described.url is not None
    return described.url, SIZE


def fetch(rig: Rig, url: str, target: Path, seconds: float = 600) -> download.Artifact:
    notices: list[str] = []
    storage = download.Storage(
        requests.Session(),
        Deadline(rig.clock, seconds),
        refresh=lambda: url,
        progress=lambda done, total: None,
        notice=notices.append,
        api_root=rig.sim.base_url,
    )
    return download.fetch(storage, url, target, SIZE, target.parent)


def test_download_without_progress_gives_up_after_five_stalls(rig: Rig, tmp_path: Path) -> None:
    url, _ = succeeded_location(rig)
    rig.sim.add_fault(Fault("truncate", listener="storage", after_bytes=0, times=-1))
    with pytest.raises(DownloadError, match="no progress in 6 tries"):
        fetch(rig, url, tmp_path / "app.mda")
    assert list(tmp_path.iterdir()) == []
    assert rig.clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_storage_5xx_is_retried(rig: Rig, tmp_path: Path) -> None:
    url, size = succeeded_location(rig)
    rig.sim.add_fault(Fault("status", listener="storage", status=503, times=2))
    artifact = fetch(rig, url, tmp_path / "app.mda")
    assert artifact.size == size
    assert [p.name for p in tmp_path.iterdir()] == ["app.mda"]


def test_deadline_during_download_leaves_nothing(rig: Rig, tmp_path: Path) -> None:
    url, _ = succeeded_location(rig)
    rig.sim.add_fault(Fault("truncate", listener="storage", after_bytes=0, times=-1))
    with pytest.raises(DeadlineExceeded):
        fetch(rig, url, tmp_path / "app.mda", seconds=2)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_only_when_complete(rig: Rig, tmp_path: Path) -> None:
    url, _ = succeeded_location(rig)
    target = tmp_path / "app.mda"
    target.write_bytes(b"previous package")
    rig.sim.add_fault(Fault("truncate", listener="storage", after_bytes=0, times=-1))
    with pytest.raises(DownloadError):
        fetch(rig, url, target)
    assert target.read_bytes() == b"previous package"
    assert [p.name for p in tmp_path.iterdir()] == ["app.mda"]


def test_start_is_not_retried_blindly_when_listing_fails(rig: Rig) -> None:
    rig.sim.add_fault(Fault("status", method="POST", status=503, process=True))
    rig.sim.add_fault(Fault("delay", method="GET", delay=0))  # the list before the POST passes
    rig.sim.add_fault(Fault("status", method="GET", status=400))  # the search after it fails
    config = rig.config()
    with pytest.raises(Exception, match="HTTP 400"):
        start_build(plan_of(config), rig.services(config))
    assert len(rig.service.apps["calc"].packages) == 1
    assert len(rig.sim.requests("api", "POST")) == 1


def test_write_failure_exits_6_and_leaves_nothing(sim: Simulator, workspace: Path) -> None:
    """A full disk, played by a file-size limit: writes fail with EFBIG."""

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    values = inputs(sim, result_file="result.json")
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT)],
        env=base_env(workspace.parent) | mendix_env(values),
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        preexec_fn=limit_file_size,
    )
    assert done.returncode == 6, done.stderr
    assert "Cannot write the package" in done.stderr
    assert [p.name for p in workspace.iterdir()] == ["result.json"]
