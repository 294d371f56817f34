"""The simulator's Deploy API v1 additions (app, settings, logs, deployed package) and the
Backups API v2, spoken to over plain HTTP; simulated time moves only when a test says so."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.packages import SimPackage
from tests.conftest import API_KEY, ENTRYPOINT, USER, simulate_process
from tests.rig import FakeClock

AUTH = {"Mendix-Username": USER, "Mendix-ApiKey": API_KEY}
JSON = AUTH | {"Content-Type": "application/json"}
ACC = "/api/1/apps/calc/environments/Acceptance"
NOON = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC).timestamp()  # no day ends during a test


class World:
    """The simulator on a fake clock, and short ways to call it."""

    def __init__(self, clock: FakeClock, service: BuildService, sim: Simulator) -> None:
        self.clock, self.service, self.sim = clock, service, sim
        self.app = service.apps["calc"]
        self.acc: SimEnvironment = self.app.environments["Acceptance"]

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", JSON if method == "POST" else AUTH)
        return requests.request(
            method, f"{self.sim.base_url}{path}", headers=headers, timeout=10, **kwargs
        )

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert 200 <= response.status_code < 300, response.text
        return response.json() if response.content else None

    def v2(self, mode: str = "Acceptance") -> str:
        environment = self.app.environments[mode]
        return f"/api/v2/apps/{self.app.project_id}/environments/{environment.environment_id}"

    def wait(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def deploy(self, package: SimPackage, mode: str = "Acceptance") -> requests.Response:
        """Stop, transport, start with AutoSyncDb; the start job's last answer."""
        base = f"/api/1/apps/calc/environments/{mode}"
        self.ok("POST", f"{base}/stop", json={})
        self.ok("POST", f"{base}/transport", json={"PackageId": package.package_id})
        job = self.ok("POST", f"{base}/start", json={"AutoSyncDb": True})["JobId"]
        self.wait(self.app.environments[mode].start_seconds)
        return self.call("GET", f"{base}/start/{job}")

    def settings(self) -> dict[str, Any]:
        body: dict[str, Any] = self.ok("GET", f"{ACC}/settings")
        return body


@pytest.fixture
def world() -> Iterator[World]:
    clock = FakeClock()
    service = BuildService(USER, API_KEY, clock=clock.now, url_ttl=60, wall_start=NOON)
    service.add_app("calc", package_size=50_000)
    with Simulator(service) as sim:
        yield World(clock, service, sim)


def constants(settings: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["Name"]: (c["Value"], c["DeployedValue"]) for c in settings["Constants"]}


def events(settings: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {e["Name"]: (e["Value"], e["DeployedValue"]) for e in settings["ScheduledEvents"]}


# -- Deploy API v1: app, environment, deployed package ----------------------------------
def test_app_answers_its_ids_name_and_url(world: World) -> None:
    body = world.ok("GET", "/api/1/apps/calc")
    assert body == {
        "AppId": "calc",
        "ProjectId": world.app.project_id,
        "Name": "Calc",
        "Url": "https://calc.mendixcloud.example",
    }
    assert world.call("GET", "/api/1/apps/nosuch").json()["errorCode"] == "APP_NOT_FOUND"
    assert world.call("GET", "/api/1/apps/Bad_App").json()["errorCode"] == "INVALID_APPID"
    world.app.denied = True
    assert world.call("GET", "/api/1/apps/calc").status_code == 403


def test_environment_carries_its_id_and_production_flag(world: World) -> None:
    production = world.ok("GET", "/api/1/apps/calc/environments/Production")
    assert production["Production"] is True
    assert production["EnvironmentId"] == world.app.environments["Production"].environment_id
    assert world.ok("GET", ACC)["Production"] is False


def test_deployed_package_with_and_without_url(world: World) -> None:
    missing = world.call("GET", f"{ACC}/package")
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "PACKAGE_NOT_FOUND")
    package = world.service.seed_package("calc", "1.4.0", deployed_to="Acceptance")
    plain = world.ok("GET", f"{ACC}/package")
    assert plain["PackageId"] == package.package_id
    assert "Url" not in plain
    located = world.ok("GET", f"{ACC}/package", params={"url": "true"})
    assert located["Url"]["TTL"] == 60
    assert located["Url"]["Location"].startswith(world.sim.storage_url)
    data = requests.get(located["Url"]["Location"], timeout=10).content
    assert len(data) == 50_000
    assert data[:2] == b"PK"


# -- Content-Type ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{ACC}/stop", None),
        (f"{ACC}/transport", b'{"PackageId": "x"}'),
        (f"{ACC}/start", b'{"AutoSyncDb": true}'),
        (f"{ACC}/settings", b'{"Constants": []}'),
        ("{v2}/snapshots", b'{"comment": "x"}'),
        ("{v2}/restores?source_snapshot_id=x&db_only=true", None),
    ],
)
def test_posts_without_json_content_type_are_refused(
    world: World, path: str, body: bytes | None
) -> None:
    url = path.format(v2=world.v2())
    for headers in (AUTH, AUTH | {"Content-Type": "text/plain"}):
        refused = world.call("POST", url, data=body, headers=headers)
        assert refused.status_code == 415
        assert refused.json()["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"
    assert world.acc.status == "Running"
    with_charset = AUTH | {"Content-Type": "application/json; charset=utf-8"}
    assert world.call("POST", url, data=body, headers=with_charset).status_code != 415


def test_checks_of_path_come_before_the_content_type(world: World) -> None:
    unknown = world.call("POST", "/api/1/apps/calc/environments/Nope/stop", headers=AUTH)
    assert unknown.json()["errorCode"] == "ENVIRONMENT_NOT_FOUND"
    assert world.call("POST", f"{ACC}/stop", headers={}).status_code == 401


# -- settings ----------------------------------------------------------------------
def test_settings_answer_constants_custom_settings_and_events(world: World) -> None:
    settings = world.settings()
    assert set(settings) == {"Constants", "CustomSettings", "ScheduledEvents"}
    assert settings["CustomSettings"] == []
    page_size = next(c for c in settings["Constants"] if c["Name"] == "MyFirstModule.PageSize")
    assert page_size == {
        "Name": "MyFirstModule.PageSize",
        "DataType": "Integer",
        "Value": "20",
        "DeployedValue": "20",
    }
    assert events(settings)["MyFirstModule.NightlyCleanup"] == ("Disabled", "Disabled")


def test_settings_change_takes_effect_at_the_next_start(world: World) -> None:
    package = world.service.seed_package("calc", "1.4.0", deployed_to="Acceptance")
    settings = world.settings()
    for constant in settings["Constants"]:
        if constant["Name"] == "MyFirstModule.PageSize":
            constant["Value"] = "50"
    for event in settings["ScheduledEvents"]:
        if event["Name"] == "MyFirstModule.NightlyCleanup":
            event["Value"] = "Enabled"
    world.ok("POST", f"{ACC}/settings", json=settings)
    after = world.settings()
    assert constants(after)["MyFirstModule.PageSize"] == ("50", "20")
    assert events(after)["MyFirstModule.NightlyCleanup"] == ("Enabled", "Disabled")
    assert world.deploy(package).json() == {"Status": "Started"}
    started = world.settings()
    assert constants(started)["MyFirstModule.PageSize"] == ("50", "50")
    assert events(started)["MyFirstModule.NightlyCleanup"] == ("Enabled", "Enabled")


def test_settings_left_out_stay_as_they_are(world: World) -> None:
    change = {"Constants": [{"Name": "MyFirstModule.ApiUrl", "Value": "https://x.example"}]}
    world.ok("POST", f"{ACC}/settings", json=change)
    values = constants(world.settings())
    assert values["MyFirstModule.ApiUrl"][0] == "https://x.example"
    assert values["MyFirstModule.PageSize"][0] == "20"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"Constants": [{"Name": "Nope.Nothing", "Value": "1"}]}, 400, "CONSTANT_NOT_FOUND"),
        (
            {"ScheduledEvents": [{"Name": "Nope.Event", "Value": "Enabled"}]},
            400,
            "SCHEDULED_EVENT_NOT_FOUND",
        ),
        (
            {"ScheduledEvents": [{"Name": "MyFirstModule.NightlyCleanup", "Value": "On"}]},
            500,
            "INVALID_SCHEDULED_EVENT_PARAMETER",
        ),
        (
            {"CustomSettings": [{"Name": "LogMinDurationQuery", "Value": "1"}]},
            400,
            "CUSTOM_SETTING_NOT_SUPPORTED",
        ),
        ({"Constants": "all"}, 400, "INVALID_PARAMETERS"),
        ([], 400, "INVALID_PARAMETERS"),
    ],
)
def test_settings_errors_change_nothing(world: World, body: Any, status: int, code: str) -> None:
    before = world.settings()
    good = {"Name": "MyFirstModule.PageSize", "Value": "99"}
    if isinstance(body, dict):
        body = body | {"Constants": [good, *body.get("Constants", [])]}
        if code == "INVALID_PARAMETERS":
            body["Constants"] = "all"
    refused = world.call("POST", f"{ACC}/settings", json=body)
    assert (refused.status_code, refused.json()["errorCode"]) == (status, code)
    assert world.settings() == before


def test_transport_brings_the_new_models_constants_keeping_values_that_stay(
    world: World,
) -> None:
    world.service.seed_package("calc", "1.4.0", deployed_to="Acceptance")
    change = {"Constants": [{"Name": "MyFirstModule.PageSize", "Value": "75"}]}
    world.ok("POST", f"{ACC}/settings", json=change)
    world.app.constants.pop("MyFirstModule.AuditEnabled")
    new = world.service.seed_package(
        "calc",
        "1.5.0",
        constants={"MyFirstModule.ServiceKey": None, "MyFirstModule.Region": "eu"},
        scheduled_events={"MyFirstModule.Archive": "Enabled"},
    )
    world.ok("POST", f"{ACC}/stop", json={})
    world.ok("POST", f"{ACC}/transport", json={"PackageId": new.package_id})
    settings = world.settings()
    assert constants(settings) == {
        "MyFirstModule.ApiUrl": ("https://api.example.com", "https://api.example.com"),
        "MyFirstModule.PageSize": ("75", "20"),
        "MyFirstModule.ServiceKey": (None, None),
        "MyFirstModule.Region": ("eu", None),
    }
    assert events(settings)["MyFirstModule.Archive"] == ("Enabled", None)
    refused = world.call(
        "POST",
        f"{ACC}/settings",
        json={"Constants": [{"Name": "MyFirstModule.AuditEnabled", "Value": "true"}]},
    )
    assert refused.json()["errorCode"] == "CONSTANT_NOT_FOUND"


def test_a_constant_with_no_value_fails_the_start_until_it_is_set(world: World) -> None:
    new = world.service.seed_package("calc", "1.5.0", constants={"MyFirstModule.ServiceKey": None})
    failed = world.deploy(new)
    assert (failed.status_code, failed.json()["errorCode"]) == (500, "MISSING_CONSTANT")
    assert world.ok("GET", ACC)["Status"] == "Stopped"
    assert world.acc.database == "1.0.0.1"  # the start never got to the database
    settings = world.settings()
    for constant in settings["Constants"]:
        if constant["Name"] == "MyFirstModule.ServiceKey":
            constant["Value"] = "s3cr3t"
    world.ok("POST", f"{ACC}/settings", json=settings)
    job = world.ok("POST", f"{ACC}/start", json={"AutoSyncDb": True})["JobId"]
    world.wait(world.acc.start_seconds)
    assert world.ok("GET", f"{ACC}/start/{job}") == {"Status": "Started"}
    assert constants(world.settings())["MyFirstModule.ServiceKey"] == ("s3cr3t", "s3cr3t")
    assert world.acc.database == world.acc.model_version


def test_a_start_without_auto_sync_works_once_the_database_matches(world: World) -> None:
    package = world.service.seed_package("calc", "1.4.0")
    world.ok("POST", f"{ACC}/stop", json={})
    world.ok("POST", f"{ACC}/transport", json={"PackageId": package.package_id})
    job = world.ok("POST", f"{ACC}/start", json={"AutoSyncDb": False})["JobId"]
    world.wait(world.acc.start_seconds)
    assert world.call("GET", f"{ACC}/start/{job}").json()["errorCode"] == "INVALID_DB_STRUCTURE"
    assert world.deploy(package).json() == {"Status": "Started"}
    world.ok("POST", f"{ACC}/stop", json={})
    job = world.ok("POST", f"{ACC}/start", json={})["JobId"]
    world.wait(world.acc.start_seconds)
    assert world.ok("GET", f"{ACC}/start/{job}") == {"Status": "Started"}


# -- logs --------------------------------------------------------------------------
def log_of(world: World, date: str | None = None) -> requests.Response:
    body = world.ok("GET", f"{ACC}/logs/{date or world.service.today()}")
    return requests.get(body["DownloadUrl"], timeout=10)


def test_log_link_is_a_signed_url_on_the_storage_host(world: World) -> None:
    today = world.service.today()
    body = world.ok("GET", f"{ACC}/logs/{today}")
    assert set(body) == {"Environment", "Date", "DownloadUrl"}
    assert (body["Environment"], body["Date"]) == ("Acceptance", today)
    assert body["DownloadUrl"].startswith(world.sim.storage_url + "/logs/")
    log = requests.get(body["DownloadUrl"], timeout=10)  # no Mendix headers
    assert log.status_code == 200
    assert log.headers["Content-Type"].startswith("text/plain")
    lines = log.text.splitlines()
    assert len(lines) == world.acc.log_lines
    assert all(line.startswith(today) and " INFO " in line for line in lines)
    assert not world.sim.requests("storage")[0].headers.get("mendix-apikey")
    world.service.expire_all()
    assert requests.get(body["DownloadUrl"], timeout=10).status_code == 403


def test_log_of_a_failed_start_ends_with_its_reason(world: World) -> None:
    world.acc.start_error = "DB_SYNC_FAILED"
    package = world.service.seed_package("calc", "1.4.0")
    assert world.deploy(package).json()["errorCode"] == "DB_SYNC_FAILED"
    tail = log_of(world).text.splitlines()[-5:]
    assert "Runtime stopped." in tail[0]
    assert "Starting the Mendix Runtime." in tail[1]
    assert "Synchronization of database failed." in tail[3]
    assert tail[4].endswith("(DB_SYNC_FAILED)")
    assert " CRITICAL " in tail[4]


def test_log_names_each_constant_with_no_value(world: World) -> None:
    new = world.service.seed_package(
        "calc", "1.5.0", constants={"Mod.KeyA": None, "Mod.KeyB": None}
    )
    world.deploy(new)
    tail = log_of(world).text.splitlines()[-3:]
    assert ["Mod.KeyA" in tail[0], "Mod.KeyB" in tail[1]] == [True, True]
    assert tail[2].endswith("(MISSING_CONSTANT)")


def test_tail_of_a_large_log_by_suffix_and_open_ranges(world: World) -> None:
    world.acc.log_lines = 2_000_000  # about 140 MB, never built whole
    world.acc.start_error = "STARTUP_ACTION_FAILED"
    world.acc.log_tail = ["\x1b[31m::error::injected\x1b[0m"]
    world.deploy(world.service.seed_package("calc", "1.4.0"))
    url = world.ok("GET", f"{ACC}/logs/{world.service.today()}")["DownloadUrl"]
    tail = requests.get(url, headers={"Range": "bytes=-4096"}, timeout=10)
    assert tail.status_code == 206
    assert len(tail.content) == 4096
    first, _, size = tail.headers["Content-Range"].removeprefix("bytes ").partition("/")
    assert int(size) > 100_000_000
    assert first == f"{int(size) - 4096}-{int(size) - 1}"
    lines = tail.content.decode().splitlines()
    assert lines[-1] == "\x1b[31m::error::injected\x1b[0m"
    assert lines[-2].endswith("(STARTUP_ACTION_FAILED)")
    assert "Handled request 001999999" in tail.text
    opened = requests.get(url, headers={"Range": f"bytes={int(size) - 100}-"}, timeout=10)
    assert opened.content == tail.content[-100:]
    middle = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=10)
    assert middle.content.startswith(world.service.today().encode())
    assert len(middle.content) == 100
    too_far = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=10)
    assert too_far.status_code == 416


def test_suffix_range_of_a_package(world: World) -> None:
    package = world.service.seed_package("calc", "1.0.0")
    described = world.ok("GET", f"/api/1/apps/calc/packages/{package.package_id}?url=true")
    location = described["Url"]["Location"]
    whole = requests.get(location, timeout=10).content
    tail = requests.get(location, headers={"Range": "bytes=-22"}, timeout=10)
    assert tail.status_code == 206
    assert tail.content == whole[-22:]
    assert tail.headers["Content-Range"] == "bytes 49978-49999/50000"
    zero = requests.get(location, headers={"Range": "bytes=-0"}, timeout=10)
    assert zero.status_code == 416


def test_whole_log_is_the_same_bytes_as_its_ranges(world: World) -> None:
    world.acc.log_lines = 3000
    url = world.ok("GET", f"{ACC}/logs/{world.service.today()}")["DownloadUrl"]
    whole = requests.get(url, timeout=10).content
    pieces = [
        requests.get(url, headers={"Range": f"bytes={a}-{a + 9999}"}, timeout=10).content
        for a in range(0, len(whole), 10_000)
    ]
    assert b"".join(pieces) == whole


def test_log_days_and_errors(world: World) -> None:
    today = dt.date.fromisoformat(world.service.today())
    for back in (0, 6):
        assert world.call("GET", f"{ACC}/logs/{today - dt.timedelta(days=back)}").ok
    for date in (today - dt.timedelta(days=7), today + dt.timedelta(days=1), "yesterday"):
        missing = world.call("GET", f"{ACC}/logs/{date}")
        assert missing.status_code == 404
    past = log_of(world, str(today - dt.timedelta(days=3)))
    assert len(past.text.splitlines()) == world.acc.log_lines
    world.acc.logs_forbidden = True
    forbidden = world.call("GET", f"{ACC}/logs/{today}")
    assert (forbidden.status_code, forbidden.json()["errorCode"]) == (403, "FORBIDDEN")
    world.app.environments["Test"].status = "Empty"
    empty = world.call("GET", f"/api/1/apps/calc/environments/Test/logs/{today}")
    assert empty.status_code == 404


def test_faults_reach_the_new_paths(world: World) -> None:
    world.sim.add_fault(Fault("status", path=r"/logs/", status=503))
    world.sim.add_fault(Fault("status", path=r"/snapshots$", status=502))
    world.sim.add_fault(Fault("expire", listener="storage", path=r"^/logs/"))
    assert world.call("GET", f"{ACC}/logs/{world.service.today()}").status_code == 503
    assert world.call("GET", f"{world.v2()}/snapshots").status_code == 502
    assert log_of(world).status_code == 403
    assert log_of(world).status_code == 200


# -- Backups API v2 ------------------------------------------------------------------
def test_snapshot_goes_queued_running_completed(world: World) -> None:
    created = world.call("POST", f"{world.v2()}/snapshots", json={"comment": "before 1.4.0"})
    assert created.status_code == 201
    snapshot = created.json()
    assert set(snapshot) == {
        "snapshot_id",
        "state",
        "status_message",
        "model_version",
        "comment",
        "created_at",
        "updated_at",
        "finished_at",
        "expires_at",
    }
    assert (snapshot["state"], snapshot["comment"]) == ("queued", "before 1.4.0")
    assert snapshot["model_version"] == "1.0.0.1"
    assert snapshot["finished_at"] is None
    assert snapshot["expires_at"] is None
    path = f"{world.v2()}/snapshots/{snapshot['snapshot_id']}"
    seen: list[str] = []
    for _ in range(14):
        state = world.ok("GET", path)["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        world.wait(0.5)
    assert seen == ["queued", "running", "completed"]
    done = world.ok("GET", path)
    created_at = dt.datetime.fromisoformat(done["created_at"])
    finished_at = dt.datetime.fromisoformat(done["finished_at"])
    assert finished_at - created_at == dt.timedelta(seconds=5)
    assert done["updated_at"] == done["finished_at"]
    assert dt.datetime.fromisoformat(done["expires_at"]) > finished_at
    assert created_at.tzinfo is not None


def test_snapshot_list_pages_newest_first(world: World) -> None:
    ids = []
    for number in range(3):
        ids.append(world.ok("POST", f"{world.v2()}/snapshots", json={"comment": f"n{number}"}))
        world.wait(10)
    page = world.ok("GET", f"{world.v2()}/snapshots", params={"offset": 1, "limit": 1})
    assert (page["limit"], page["offset"], page["total"]) == (1, 1, 3)
    assert [s["comment"] for s in page["snapshots"]] == ["n1"]
    every = world.ok("GET", f"{world.v2()}/snapshots")
    assert [s["comment"] for s in every["snapshots"]] == ["n2", "n1", "n0"]
    other = world.ok("GET", f"{world.v2('Test')}/snapshots")
    assert other["total"] == 0


def test_snapshot_can_be_made_to_fail(world: World) -> None:
    world.acc.snapshot_fails = True
    snapshot = world.ok("POST", f"{world.v2()}/snapshots", json={"comment": ""})
    world.wait(10)
    failed = world.ok("GET", f"{world.v2()}/snapshots/{snapshot['snapshot_id']}")
    assert failed["state"] == "failed"
    assert failed["status_message"]
    assert failed["finished_at"] is not None
    assert failed["expires_at"] is None


def test_time_scale_applies_to_backup_jobs() -> None:
    clock = FakeClock()
    service = BuildService(USER, API_KEY, clock=clock.now, time_scale=60, wall_start=NOON)
    service.add_app("calc")
    service.backup_times.snapshot = 600
    with Simulator(service) as sim:
        world = World(clock, service, sim)
        snapshot = world.ok("POST", f"{world.v2()}/snapshots", json={"comment": "x"})
        world.wait(10)  # 600 simulated seconds
        path = f"{world.v2()}/snapshots/{snapshot['snapshot_id']}"
        assert world.ok("GET", path)["state"] == "running"
        world.wait(0.1)
        assert world.ok("GET", path)["state"] == "completed"


def test_one_backup_job_at_a_time_per_environment(world: World) -> None:
    world.ok("POST", f"{world.v2()}/snapshots", json={"comment": "a"})
    busy = world.call("POST", f"{world.v2()}/snapshots", json={"comment": "b"})
    assert (busy.status_code, busy.json()["errorCode"]) == (400, "ENVIRONMENT_BUSY")
    assert world.call("POST", f"{world.v2('Test')}/snapshots", json={"comment": "c"}).ok
    world.wait(5)
    assert world.call("POST", f"{world.v2()}/snapshots", json={"comment": "d"}).ok


def completed_snapshot(world: World, mode: str = "Acceptance") -> str:
    snapshot = world.ok("POST", f"{world.v2(mode)}/snapshots", json={"comment": "s"})
    world.wait(5)
    snapshot_id: str = snapshot["snapshot_id"]
    return snapshot_id


def test_restore_after_a_failed_migration_puts_the_database_back(world: World) -> None:
    old = world.service.seed_package("calc", "1.4.0", deployed_to="Acceptance")
    snapshot_id = completed_snapshot(world)
    assert world.ok("GET", f"{world.v2()}/snapshots/{snapshot_id}")["model_version"] == (
        old.version + "." + old.revision
    )
    world.acc.start_error = "DB_SYNC_FAILED"
    new = world.service.seed_package("calc", "1.5.0")
    assert world.deploy(new).json()["errorCode"] == "DB_SYNC_FAILED"
    assert world.acc.database == f"1.5.0.{new.revision} (part-way)"
    query = {"source_snapshot_id": snapshot_id, "db_only": "true"}
    created = world.call("POST", f"{world.v2()}/restores", params=query)
    assert created.status_code == 201
    restore = created.json()
    assert restore == {
        "restore_id": restore["restore_id"],
        "state": "queued",
        "status_message": restore["status_message"],
        "source_snapshot_id": snapshot_id,
        "target_environment_id": world.acc.environment_id,
    }
    path = f"{world.v2()}/restores/{restore['restore_id']}"
    world.wait(1)
    assert world.ok("GET", path)["state"] == "running"
    assert world.acc.database.endswith("(part-way)")
    world.wait(6)
    assert world.ok("GET", path)["state"] == "completed"
    assert world.acc.database == f"1.4.0.{old.revision}"
    world.acc.start_error = ""
    assert world.deploy(old).json() == {"Status": "Started"}
    assert world.ok("GET", f"{ACC}/package")["PackageId"] == old.package_id


def restore_of(world: World, snapshot_id: str, **query: str) -> requests.Response:
    params = {"source_snapshot_id": snapshot_id} | query
    return world.call("POST", f"{world.v2()}/restores", params=params)


def test_restore_rules(world: World) -> None:
    snapshot_id = completed_snapshot(world)
    running = world.call(
        "POST", f"{world.v2()}/restores", params={"source_snapshot_id": snapshot_id}
    )
    assert (running.status_code, running.json()["errorCode"]) == (400, "ERROR_NOT_ALLOWED")
    world.ok("POST", f"{ACC}/stop", json={})
    for wanted in ("", "00000000-0000-0000-0000-000000000000"):
        unknown = world.call(
            "POST", f"{world.v2()}/restores", params={"source_snapshot_id": wanted}
        )
        assert (unknown.status_code, unknown.json()["errorCode"]) == (400, "NOT_FOUND")
    world.service.add_app("other")
    theirs = completed_snapshot(world_of(world, "other"))
    foreign = world.call("POST", f"{world.v2()}/restores", params={"source_snapshot_id": theirs})
    assert foreign.json()["errorCode"] == "NOT_FOUND"
    unfinished = world.ok("POST", f"{world.v2('Test')}/snapshots", json={"comment": "t"})
    early = world.call(
        "POST",
        f"{world.v2()}/restores",
        params={"source_snapshot_id": unfinished["snapshot_id"]},
    )
    assert early.json()["errorCode"] == "ERROR_NOT_ALLOWED"
    world.wait(5)
    from_test = world.call(  # another environment of the same app: allowed
        "POST", f"{world.v2()}/restores", params={"source_snapshot_id": unfinished["snapshot_id"]}
    )
    assert from_test.status_code == 201
    busy = world.call("POST", f"{world.v2()}/snapshots", json={"comment": "while restoring"})
    assert busy.json()["errorCode"] == "ENVIRONMENT_BUSY"
    again = world.call("POST", f"{world.v2()}/restores", params={"source_snapshot_id": snapshot_id})
    assert again.json()["errorCode"] == "ENVIRONMENT_BUSY"
    bad = world.call(
        "POST", f"{world.v2()}/restores", params={"source_snapshot_id": snapshot_id, "db_only": "x"}
    )
    assert bad.status_code == 400


def world_of(world: World, app_id: str) -> World:
    other = World(world.clock, world.service, world.sim)
    other.app = world.service.apps[app_id]
    return other


def test_a_failed_restore_leaves_the_database(world: World) -> None:
    world.service.seed_package("calc", "1.4.0", deployed_to="Acceptance")
    snapshot_id = completed_snapshot(world)
    world.acc.database = "something else"
    world.acc.restore_fails = True
    world.ok("POST", f"{ACC}/stop", json={})
    restore = world.ok("POST", f"{world.v2()}/restores", params={"source_snapshot_id": snapshot_id})
    world.wait(7)
    failed = world.ok("GET", f"{world.v2()}/restores/{restore['restore_id']}")
    assert failed["state"] == "failed"
    assert world.acc.database == "something else"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("{v2}/snapshots/nope", 404, "NOT_FOUND"),
        ("{v2}/restores/nope", 404, "NOT_FOUND"),
        ("/api/v2/apps/{project}/environments/nope/snapshots", 404, "ENVIRONMENT_NOT_FOUND"),
        ("/api/v2/apps/nope/environments/{environment}/snapshots", 404, "ENVIRONMENT_NOT_FOUND"),
        ("{v2}/snapshots?limit=0", 400, "INVALID_PARAMETERS"),
        ("{v2}/nothing", 404, "NOT_FOUND"),
    ],
)
def test_backup_errors(world: World, path: str, status: int, code: str) -> None:
    url = path.format(
        v2=world.v2(), project=world.app.project_id, environment=world.acc.environment_id
    )
    response = world.call("GET", url)
    assert (response.status_code, response.json()["errorCode"]) == (status, code)
    assert response.json()["errorMessage"]


def test_backups_need_access_and_credentials(world: World) -> None:
    assert world.call("GET", f"{world.v2()}/snapshots", headers={}).status_code == 401
    world.app.backup_access = False
    for method, tail in (("GET", "/snapshots"), ("POST", "/snapshots")):
        refused = world.call(method, world.v2() + tail, json={"comment": "x"})
        assert (refused.status_code, refused.json()["errorCode"]) == (403, "NO_ACCESS")
    assert world.acc.snapshots == []


# -- simulate options ----------------------------------------------------------------
def test_simulate_options_for_backups_constants_and_logs() -> None:
    options = ["--snapshot-fails", "--no-backup-access", "--log-lines", "7", "--constant"]
    options += ["Shop.ApiKey", "--constant", "Shop.Region=eu"]
    with simulate_process(*options, "--seed", "calc:1.0.0", "--app", "calc") as (process, base):
        headers = {"Mendix-Username": "demo@example.com", "Mendix-ApiKey": "demo-api-key"}
        app = requests.get(f"{base}/api/1/apps/calc", headers=headers, timeout=10).json()
        env = requests.get(
            f"{base}/api/1/apps/calc/environments/Acceptance", headers=headers, timeout=10
        ).json()
        v2 = f"{base}/api/v2/apps/{app['ProjectId']}/environments/{env['EnvironmentId']}"
        refused = requests.get(f"{v2}/snapshots", headers=headers, timeout=10)
        assert refused.json()["errorCode"] == "NO_ACCESS"
        # yesterday has a log whether or not a day ends during the test
        yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%d")
        link = requests.get(
            f"{base}/api/1/apps/calc/environments/Acceptance/logs/{yesterday}",
            headers=headers,
            timeout=10,
        ).json()
        assert len(requests.get(link["DownloadUrl"], timeout=10).text.splitlines()) == 7
        package = requests.get(f"{base}/api/1/apps/calc/packages", headers=headers, timeout=10)
        package_id = package.json()[0]["PackageId"]
        json_headers = headers | {"Content-Type": "application/json"}
        acc = f"{base}/api/1/apps/calc/environments/Acceptance"
        requests.post(f"{acc}/stop", json={}, headers=json_headers, timeout=10)
        requests.post(
            f"{acc}/transport", json={"PackageId": package_id}, headers=json_headers, timeout=10
        )
        settings = requests.get(f"{acc}/settings", headers=headers, timeout=10).json()
        values = {c["Name"]: c["Value"] for c in settings["Constants"]}
        assert (values["Shop.ApiKey"], values["Shop.Region"]) == (None, "eu")
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize("failing", ["snapshot", "restore"])
def test_simulate_options_make_snapshots_and_restores_fail(failing: str) -> None:
    options = (f"--{failing}-fails", "--time-scale", "100")
    with simulate_process(*options, "--seed", "calc:1.0.0:Succeeded:Acceptance") as (_, base):
        headers = {"Mendix-Username": "demo@example.com", "Mendix-ApiKey": "demo-api-key"}
        json_headers = headers | {"Content-Type": "application/json"}
        app = requests.get(f"{base}/api/1/apps/calc", headers=headers, timeout=10).json()
        acc = f"{base}/api/1/apps/calc/environments/Acceptance"
        env = requests.get(acc, headers=headers, timeout=10).json()
        assert env["Status"] == "Running"
        deployed = requests.get(f"{acc}/package", headers=headers, timeout=10).json()
        assert deployed["Version"].startswith("1.0.0.")
        v2 = f"{base}/api/v2/apps/{app['ProjectId']}/environments/{env['EnvironmentId']}"
        snapshot = requests.post(
            f"{v2}/snapshots", json={"comment": "x"}, headers=json_headers, timeout=10
        ).json()
        snapshot_url = f"{v2}/snapshots/{snapshot['snapshot_id']}"
        assert _ends(snapshot_url, headers) == ("failed" if failing == "snapshot" else "completed")
        if failing == "restore":
            requests.post(f"{acc}/stop", json={}, headers=json_headers, timeout=10)
            restore = requests.post(
                f"{v2}/restores",
                params={"source_snapshot_id": snapshot["snapshot_id"], "db_only": "true"},
                headers=json_headers,
                timeout=10,
            ).json()
            assert _ends(f"{v2}/restores/{restore['restore_id']}", headers) == "failed"


def _ends(url: str, headers: dict[str, str]) -> str:
    """The state a job ends in (the simulator runs 100 times faster than real time)."""
    for _ in range(200):
        state: str = requests.get(url, headers=headers, timeout=10).json()["state"]
        if state in ("completed", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"{url} never ended")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--constant", "=x", "expected NAME[=VALUE]"),
        ("--seed", "calc:1.0.0:Succeeded:Nowhere", "known app and environment"),
        ("--seed", "calc:1.0.0:Failed:Acceptance", "only a Succeeded package"),
        ("--log-lines", "-1", "-1"),
        ("--pipeline", "p:LATER", "expected ID[:SUCCEEDED|FAILED]"),
        ("--failing-unit-test", ":x", "expected NAME[:ERROR]"),
    ],
)
def test_simulate_refuses_bad_new_options(option: str, value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "simulate", "--port", "0", option, value],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert option in done.stderr
    assert message in done.stderr
