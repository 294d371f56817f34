"""The simulator's apps: the Unit Testing module's remote API as its own source answers
(mendix/UnitTesting, RemoteApiServlet and TestManager), on the fake clock; and the
`simulate` options that shape it."""

from __future__ import annotations

import json

import pytest
import requests

from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.unit_tests import suites_of
from tests.conftest import simulating
from tests.rig import Rig

PASSWORD = "sim-pw-1234"


@pytest.fixture
def app(rig: Rig) -> SimEnvironment:
    environment = rig.service.apps["calc"].environments["Test"]
    environment.unit_testing.password = PASSWORD
    environment.unit_testing.suites = suites_of(4, {"Alpha.Test_A": "a failed", "Beta.Test_B": ""})
    environment.unit_testing.seconds_per_test = 10.0
    return environment


def post(
    rig: Rig, command: str, body: object = None, *, raw: bytes | None = None
) -> requests.Response:
    url = f"{rig.sim.app_url('calc', 'Test')}/unittests/{command}"
    data = raw if raw is not None else json.dumps({"password": PASSWORD} if body is None else body)
    return requests.post(url, data=data, timeout=5)


def test_only_post_is_served_and_only_start_and_status(rig: Rig, app: SimEnvironment) -> None:
    url = rig.sim.app_url("calc", "Test")
    for method in ("GET", "PUT", "DELETE"):
        answer = requests.request(method, f"{url}/unittests/status", timeout=5)
        assert (answer.status_code, answer.content) == (405, b"")
    assert requests.get(f"{url}/unittests/nothing", timeout=5).status_code == 405
    assert post(rig, "nothing").status_code == 404
    assert requests.post(f"{url}/other", timeout=5).status_code == 404


def test_password_rules(rig: Rig, app: SimEnvironment) -> None:
    missing = post(rig, "start", {})
    assert missing.status_code == 400
    assert missing.text == (
        "No 'password' attribute found in the JSON body. Please provide a password"
    )
    wrong = post(rig, "status", {"password": "nope"})
    assert (wrong.status_code, wrong.text) == (401, "Invalid password provided")
    assert post(rig, "start", raw=b"not json").status_code == 500
    assert app.unit_testing.starts == 0


def test_status_before_any_start_then_a_run_and_a_second_start_refused(
    rig: Rig, app: SimEnvironment
) -> None:
    before = post(rig, "status")
    assert (before.status_code, before.text) == (400, "No testrun was started yet")
    assert "content-type" not in {k.lower() for k in before.headers}  # plain text
    started = post(rig, "start")
    assert (started.status_code, started.content) == (204, b"")
    busy = post(rig, "start")
    assert busy.status_code == 400
    assert busy.text == "Cannot start a test run while another test run is still running"
    status = post(rig, "status")
    assert status.headers["Content-Type"] == "application/json"
    assert status.text.startswith('{\n    "completed": false')  # toString(4)
    assert status.json()["runtime"] == -1


def test_failures_are_counted_as_they_happen_and_listed_once_their_suite_ends(
    rig: Rig, app: SimEnvironment
) -> None:
    """Alpha (Test_A fails) runs from 0 to 10 s, Beta (Test_B fails) 10-20 s, MyFirstModule
    (two that pass) 20-40 s."""
    post(rig, "start")
    rig.clock.sleep(10.0)  # Alpha has ended Failed
    first = post(rig, "status").json()
    assert (first["completed"], first["tests"], first["failures"]) == (False, 4, 1)
    assert [t["name"] for t in first["failed_tests"]] == ["Alpha.Test_A"]
    rig.clock.sleep(15.0)
    second = post(rig, "status").json()
    assert second["failures"] == 2
    assert [t["name"] for t in second["failed_tests"]] == ["Alpha.Test_A", "Beta.Test_B"]
    assert second["failed_tests"][1] == {
        "name": "Beta.Test_B",
        "error": "One or more assertions failed",
        "step": "Assert the result",
    }
    rig.clock.sleep(15.0)
    done = post(rig, "status").json()
    assert (done["completed"], done["runtime"], done["failures"]) == (True, 40000, 2)


def test_a_suite_still_running_has_its_failure_counted_not_listed(
    rig: Rig, app: SimEnvironment
) -> None:
    app.unit_testing.suites = suites_of(3, {"Alpha.Test_A": "x", "Alpha.Test_Z": ""})
    post(rig, "start")
    rig.clock.sleep(10.0)  # Alpha.Test_A failed, Alpha.Test_Z still to run
    status = post(rig, "status").json()
    assert (status["failures"], status["failed_tests"]) == (1, [])


def test_a_restart_forgets_the_run_but_the_suites_keep_their_counts(
    rig: Rig, app: SimEnvironment
) -> None:
    post(rig, "start")
    rig.clock.sleep(40.0)
    assert post(rig, "status").json()["failures"] == 2
    app.unit_testing.restart()
    assert post(rig, "status").text == "No testrun was started yet"
    post(rig, "start")  # a new run: each suite's count starts over only when it starts
    counted = post(rig, "status").json()
    assert counted["failures"] == 1  # Alpha started again (0 so far), Beta still counts 1
    assert counted["failed_tests"] == []  # no suite has ended in this run yet


def test_a_stopped_app_or_one_without_the_module_does_not_answer(
    rig: Rig, app: SimEnvironment
) -> None:
    app.unit_testing.enabled = False
    assert post(rig, "start").status_code == 404
    app.unit_testing.enabled = True
    app.status = "Stopped"
    assert post(rig, "start").status_code == 503


def test_a_stop_through_the_deploy_api_restarts_the_module(rig: Rig, app: SimEnvironment) -> None:
    post(rig, "start")
    headers = {"Mendix-Username": rig.service.username, "Mendix-ApiKey": rig.service.api_key}
    stop = requests.post(
        f"{rig.sim.base_url}/api/1/apps/calc/environments/Test/stop",
        json={},
        headers=headers,
        timeout=5,
    )
    assert stop.status_code == 200
    assert app.unit_testing.run is None


def test_simulate_serves_the_apps_with_the_tests_and_pipelines_it_is_given() -> None:
    options = (
        "--local-app-urls",
        "--unit-tests",
        "3",
        "--failing-unit-test",
        "Orders.Test_Total:Expected 3",
        "--unit-test-seconds",
        "0",
        "--pipeline",
        "nightly:FAILED",
    )
    with simulating(*options) as (step, base):
        banner = step.stdout
        assert "Unit Testing module in every app: 3 tests (1 failing), RemoteApiPassword " in (
            banner
        )
        assert "pipeline nightly: runs end FAILED" in banner
        headers = {"Mendix-Username": "demo@example.com", "Mendix-ApiKey": "demo-api-key"}
        environment = requests.get(
            f"{base}/api/1/apps/calc/environments/Test", headers=headers, timeout=5
        ).json()
        url = environment["Url"]
        assert url.startswith("http://127.0.0.1:")
        assert f"app of Test: {url}" in banner
        body = {"password": "demo-unit-tests"}
        assert requests.post(f"{url}/unittests/start", json=body, timeout=5).status_code == 204
        status = requests.post(f"{url}/unittests/status", json=body, timeout=5).json()
        assert (status["completed"], status["tests"], status["failures"]) == (True, 3, 1)
        assert status["failed_tests"][0]["error"] == "Expected 3"
        step.wait_for("/calc/Test/unittests/status 200")  # each request logged
