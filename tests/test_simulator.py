"""The simulator follows the Build API reference page (spoken to over plain HTTP)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from ci_step.cli import cli
from ci_step.simulator import BuildService, Durations, Fault, Simulator, content
from ci_step.simulator.faults import FAULT_KINDS, parse_fault
from ci_step.simulator.state import DEFAULT_SIZE
from tests.conftest import (
    API_KEY,
    ENTRYPOINT,
    GIT_HEAD,
    USER,
    base_env,
    run_entrypoint,
    simulate_process,
    simulating,
)
from tests.relay import Certificates
from tests.rig import Rig

AUTH = {"Mendix-Username": USER, "Mendix-ApiKey": API_KEY}


def call(sim: Simulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", AUTH)
    return requests.request(
        method, f"{sim.base_url}/api/1{path}", headers=headers, timeout=10, **kwargs
    )


def start(sim: Simulator, app: str = "calc", **body: str) -> str:
    payload = {
        "Branch": "main",
        "Revision": GIT_HEAD[:8],
        "Version": "1.0.0",
        "Description": "d",
    } | body
    response = call(sim, "POST", f"/apps/{app}/packages", json=payload)
    assert response.status_code == 200, response.text
    package_id: str = response.json()["PackageId"]
    return package_id


def wait_status(sim: Simulator, package_id: str, wanted: str, app: str = "calc") -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body: dict[str, Any] = call(sim, "GET", f"/apps/{app}/packages/{package_id}").json()
        if body["Status"] == wanted:
            return body
        time.sleep(0.02)
    raise AssertionError(f"{package_id} never reached {wanted}")


def test_lifecycle_and_fields(rig: Rig) -> None:
    # Simulated time moves only when the test says so: no status can slip by unseen.
    sim = rig.sim
    package_id = start(sim, Description="Add scientific mode")
    seen: list[str] = []
    for _ in range(20):
        status = call(sim, "GET", f"/apps/calc/packages/{package_id}").json()["Status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        rig.clock.sleep(0.5)
    assert seen == ["Queued", "Building", "Uploading", "Succeeded"]
    body = call(sim, "GET", f"/apps/calc/packages/{package_id}").json()
    assert set(body) == {
        "PackageId",
        "Name",
        "Description",
        "Version",
        "Creator",
        "CreationDate",
        "Status",
        "Size",
    }
    assert body["Name"] == f"Main line-1.0.0.{GIT_HEAD[:8]}"
    assert body["Size"] == DEFAULT_SIZE
    assert body["Creator"] == USER
    assert abs(body["CreationDate"] / 1000 - time.time()) < 60
    listed = call(sim, "GET", "/apps/calc/packages").json()
    assert [p["PackageId"] for p in listed] == [package_id]


def test_url_location_ttl_and_storage_host(sim: Simulator, service: BuildService) -> None:
    package_id = start(sim)
    assert (
        "Url"
        not in call(sim, "GET", f"/apps/calc/packages/{package_id}", params={"url": "true"}).json()
    )
    wait_status(sim, package_id, "Succeeded")
    body = call(sim, "GET", f"/apps/calc/packages/{package_id}", params={"url": "true"}).json()
    assert body["Url"]["TTL"] == 60
    location = body["Url"]["Location"]
    assert location.startswith(sim.storage_url)
    assert location.endswith(f"/Main%20line-1.0.0.{GIT_HEAD[:8]}.mda")  # encoded
    assert not location.startswith(sim.base_url)
    data = requests.get(location, timeout=10).content
    seed = f"calc/{package_id}"
    assert hashlib.sha256(data).hexdigest() == content.sha256(seed, 200_000)
    part = requests.get(location, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/200000"
    service.expire_all()
    expired = requests.get(location, timeout=10)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content


def test_failed_build_for_unbuildable_revision(sim: Simulator) -> None:
    package_id = start(sim, Revision="deadbeef00")
    body = wait_status(sim, package_id, "Failed")
    assert body["Size"] == 0
    response = call(sim, "GET", f"/apps/calc/packages/{package_id}/download")
    assert response.status_code == 500
    assert response.json()["errorCode"] == "BUILD_NOT_SUCCEEDED"


def test_svn_app_takes_revision_numbers(sim: Simulator) -> None:
    good = start(sim, "legacy", Branch="trunk", Revision="120")
    bad = start(sim, "legacy", Branch="trunk", Revision="abcdef12")
    wait_status(sim, good, "Succeeded", "legacy")
    wait_status(sim, bad, "Failed", "legacy")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/apps/Bad_App/packages", {}, 400, "INVALID_APPID"),
        ("GET", "/apps/Bad_App/packages", None, 400, "INVALID_APPID"),
        ("POST", "/apps/calc/packages", {"Version": "1.0.0"}, 400, "INVALID_PARAMETERS"),
        ("POST", "/apps/calc/packages", {"Revision": "abcdef1"}, 400, "INVALID_PARAMETERS"),
        (
            "POST",
            "/apps/calc/packages",
            {"Revision": "abcdef1", "Version": "1.0"},
            400,
            "INVALID_VERSION",
        ),
        (
            "POST",
            "/apps/nosuch/packages",
            {"Revision": "abcdef1", "Version": "1.0.0"},
            404,
            "APP_NOT_FOUND",
        ),
        ("GET", "/apps/calc/packages/00000000-0000", None, 404, "PACKAGE_NOT_FOUND"),
        ("DELETE", "/apps/calc/packages/00000000-0000", None, 404, "PACKAGE_NOT_FOUND"),
        ("GET", "/apps/calc/packages/00000000-0000/download", None, 404, "PACKAGE_NOT_FOUND"),
    ],
)
def test_documented_errors(
    sim: Simulator, method: str, path: str, body: Any, status: int, code: str
) -> None:
    response = call(sim, method, path, json=body)
    assert response.status_code == status
    assert response.json()["errorCode"] == code
    assert response.json()["errorMessage"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/apps/calc/nothing-here", 404, "NOT_FOUND"),
        ("PUT", "/apps/calc/packages", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/apps/calc/environments/Acceptance", 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_routes_answer_404_for_unknown_paths_and_405_for_other_methods(
    sim: Simulator, method: str, path: str, status: int, code: str
) -> None:
    response = call(sim, method, path)
    assert response.status_code == status
    assert response.json()["errorCode"] == code


def test_credentials_checked(sim: Simulator) -> None:
    for headers in (
        {},
        {"Mendix-Username": USER, "Mendix-ApiKey": "nope"},
        {"Mendix-ApiKey": API_KEY},
    ):
        response = call(sim, "GET", "/apps/calc/packages", headers=headers)
        assert response.status_code == 401


def test_delete_rules(sim: Simulator, service: BuildService) -> None:
    in_use = service.seed_package("calc", "0.9.0", in_use=True)
    running = service.seed_package("calc", "0.9.1", status="Building")
    old = service.seed_package("calc", "0.8.0")
    for package in (in_use, running):
        response = call(sim, "DELETE", f"/apps/calc/packages/{package.package_id}")
        assert response.status_code == 409
        assert response.json()["errorCode"] == "PACKAGE_IN_USE"
    assert call(sim, "DELETE", f"/apps/calc/packages/{old.package_id}").status_code == 200
    versions = {p["Version"] for p in call(sim, "GET", "/apps/calc/packages").json()}
    assert versions == {"0.9.0", "0.9.1"}


def test_team_server_branch_call(sim: Simulator) -> None:
    main = call(sim, "GET", "/apps/calc/branches/main").json()
    assert main["LatestRevisionNumber"] == GIT_HEAD
    assert main["DisplayName"] == "Main line"
    feature = call(sim, "GET", "/apps/calc/branches/branches%2Ffeature")
    assert feature.json()["LatestRevisionNumber"] == "a1b2c3d4e5f6"
    svn = call(sim, "GET", "/apps/legacy/branches/trunk").json()
    assert svn["LatestRevisionNumber"] == 120
    assert call(sim, "GET", "/apps/calc/branches/nope").status_code == 404
    names = [b["Name"] for b in call(sim, "GET", "/apps/calc/branches").json()]
    assert names == ["main", "branches/feature"]


def test_faults_are_counted_and_logged(sim: Simulator) -> None:
    sim.add_fault(Fault("status", method="GET", status=502, times=2, retry_after="3"))
    first = call(sim, "GET", "/apps/calc/packages")
    assert first.status_code == 502
    assert first.headers["Retry-After"] == "3"
    assert first.headers["Content-Type"] == "text/html"
    assert call(sim, "GET", "/apps/calc/packages").status_code == 502
    assert call(sim, "GET", "/apps/calc/packages").status_code == 200
    assert [r.fault for r in sim.requests("api")] == ["status", "status", ""]


def test_time_scale_runs_long_builds_fast() -> None:
    service = BuildService(USER, API_KEY, durations=Durations(60, 1140, 0), time_scale=2400)
    service.add_app("calc")
    with Simulator(service) as sim:
        package_id = start(sim, Revision=service.apps["calc"].branches["main"][:7])
        wait_status(sim, package_id, "Succeeded")  # 20 simulated minutes in 0.5 s


def test_simulate_command_serves_until_terminated() -> None:
    fault = "status:status=503,times=1,retry_after=2,method=GET"
    with simulate_process("--queued", "0", "--fault", fault) as (process, base):
        statuses = []
        for _ in range(2):
            response = requests.get(
                f"{base}/api/1/apps/calc/branches/main",
                timeout=10,
                headers={"Mendix-Username": "demo@example.com", "Mendix-ApiKey": "demo-api-key"},
            )
            statuses.append((response.status_code, response.headers.get("Retry-After")))
        assert statuses == [(503, "2"), (200, None)]
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus", "unknown fault kind"),
        ("status:nope=1", "bad fault setting"),
        ("status:times=x", "bad value"),
        ("padded:listener=app,size=4000", "padded: only the api listener"),
        ("padded:listener=storage", "padded: only the api listener"),
    ],
)
def test_bad_fault_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_simulate_help_names_every_fault_kind_and_setting() -> None:
    """The --fault help is written out (the command line does not load the simulator to
    show it): it keeps up with the kinds and settings parse_fault takes."""
    (option,) = (p for p in cli.commands["simulate"].params if p.name == "faults")
    words = set(re.findall(r"[\w-]+", option.help or ""))
    settings = {f.name for f in dataclasses.fields(Fault)} - {"kind"}
    assert set(FAULT_KINDS) - words == set()
    assert settings - words == set()


def test_fault_spec_fields() -> None:
    fault = parse_fault("truncate:after-bytes=100,times=-1")
    assert (fault.kind, fault.listener, fault.after_bytes, fault.times) == (
        "truncate",
        "storage",
        100,
        -1,
    )
    assert parse_fault("reset:method=POST,process=true").process is True


@pytest.mark.parametrize("kind", ["trickle", "slow-headers"])
def test_paced_answers_are_whole_http_answers(kind: str, sim: Simulator) -> None:
    sim.add_fault(Fault(kind, path=r"/branches/main$", delay=0.001))
    paced = call(sim, "GET", "/apps/calc/branches/main")
    assert paced.status_code == 200
    assert paced.json() == call(sim, "GET", "/apps/calc/branches/main").json()
    assert [r.fault for r in sim.requests("api")] == [kind, ""]


def test_new_fault_kinds_parse() -> None:
    assert parse_fault("trickle:listener=storage").listener == "storage"
    assert parse_fault("slow-headers").kind == "slow-headers"
    assert parse_fault("not-zip").listener == "storage"
    assert parse_fault("location:location=file:///x").location == "file:///x"


def test_redirect_without_location_points_to_the_request_itself(sim: Simulator) -> None:
    sim.add_fault(Fault("redirect", status=308))
    response = call(sim, "GET", "/apps/calc/packages", params={"a": "b"}, allow_redirects=False)
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/1/apps/calc/packages?a=b"


def receive(connection: socket.socket) -> bytes:
    data = connection.recv(65536)
    assert data, "the simulator closed the connection"
    return data


def test_pause_stalls_after_the_bytes_until_its_file_exists(
    sim: Simulator, service: BuildService, tmp_path: Path
) -> None:
    package = service.seed_package("calc", "1.0.0")
    location = call(
        sim, "GET", f"/apps/calc/packages/{package.package_id}", params={"url": "true"}
    ).json()["Url"]["Location"]
    go = tmp_path / "go"
    sim.add_fault(Fault("pause", listener="storage", after_bytes=1000, until=str(go)))
    parts = urlsplit(location)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n"
        connection.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < 1000:
            received += receive(connection)
        head, first = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert len(first) == 1000
        connection.settimeout(0.2)
        with pytest.raises(TimeoutError):  # nothing more comes while the file is missing
            connection.recv(1)
        go.touch()
        connection.settimeout(10)
        rest = b""
        while len(first) + len(rest) < package.size:
            rest += receive(connection)
    assert hashlib.sha256(first + rest).hexdigest() == content.sha256(package.seed, package.size)
    assert parse_fault(f"pause:after_bytes=5,until={go}").until == str(go)


def test_not_zip_serves_an_error_page_of_the_package_size(
    sim: Simulator, service: BuildService
) -> None:
    package = service.seed_package("calc", "1.0.0")
    described = call(
        sim, "GET", f"/apps/calc/packages/{package.package_id}", params={"url": "true"}
    )
    sim.add_fault(Fault("not-zip", listener="storage", times=2))
    whole = requests.get(described.json()["Url"]["Location"], timeout=10)
    assert whole.status_code == 200
    assert len(whole.content) == 200_000
    assert whole.content.startswith(b'<?xml version="1.0"')
    part = requests.get(
        described.json()["Url"]["Location"], headers={"Range": "bytes=10-99"}, timeout=10
    )
    assert part.content == whole.content[10:100]


def test_location_fault_replaces_the_package_location(
    sim: Simulator, service: BuildService
) -> None:
    package = service.seed_package("calc", "1.0.0")
    sim.add_fault(Fault("location", location="file:///etc/passwd", times=-1))
    path = f"/apps/calc/packages/{package.package_id}"
    assert call(sim, "GET", path, params={"url": "true"}).json()["Url"]["Location"] == (
        "file:///etc/passwd"
    )
    assert "Url" not in call(sim, "GET", path).json()


def test_size_can_be_left_out(sim: Simulator, service: BuildService) -> None:
    service.apps["calc"].reports_size = False
    package = service.seed_package("calc", "1.0.0")
    assert "Size" not in call(sim, "GET", f"/apps/calc/packages/{package.package_id}").json()


def test_simulate_refuses_a_package_too_small_for_a_zip() -> None:
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "simulate", "--package-size", "100"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "ZIP archive of at least 120 bytes" in done.stderr


@pytest.mark.parametrize("option", ["--port", "--storage-port"])
def test_simulate_on_a_port_in_use_says_so_in_one_line(option: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ENTRYPOINT), "simulate", "--port", "0", option, str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: port {port} on 127.0.0.1 is in use ({option}): choose another, "
        f"or {option} 0 for any free one"
    ]


def test_simulate_banner_says_which_credentials_it_takes_and_how_to_pass_them(
    tmp_path: Path,
) -> None:
    options = ("--username", "tester@example.com", "--api-key", "sim-key-0042", "--app", "calc")
    with simulating(*options) as (step, base):
        banner = step.stdout.splitlines()
        assert banner[1].startswith(
            "Accepting Mendix-Username tester@example.com with Mendix-ApiKey sim-key-0042"
        )
        # the next line is for a shell; the variables it sets are what mendix-build reads
        words = shlex.split(banner[2])
        assert words[0] == "export"
        variables = dict(word.split("=", 1) for word in words[1:])
        assert variables == {
            "MENDIX_BASE_URL": base,
            "MENDIX_USERNAME": "tester@example.com",
            "MENDIX_API_KEY": "sim-key-0042",
        }
        env = base_env(tmp_path) | variables | {"MENDIX_APP_ID": "calc"}
        listed = run_entrypoint(env, tmp_path, "list")
    assert listed.code == 0, listed.stderr
    assert listed.stdout.startswith("PACKAGE ID")


def test_simulate_logs_each_request_on_one_line_without_the_key() -> None:
    key, wrong = "sim-key-0042", "not-the-key-0077"
    with simulating("--api-key", key, "--seed", "calc:1.0.0") as (step, base):
        lines: list[str] = []

        def get(url: str, status: int, shown: str = "", **kwargs: Any) -> requests.Response:
            """GET ``url``; return once the simulator has logged its line (the path
            ``shown``, when not the URL's own)."""
            response = requests.get(url, timeout=10, **kwargs)
            assert response.status_code == status
            lines.append(f"GET {shown or urlsplit(url).path} {status}")
            step.wait_for(lines[-1])
            return response

        headers = {"Mendix-Username": "demo@example.com", "Mendix-ApiKey": key}
        packages = f"{base}/api/1/apps/calc/packages"
        package_id = get(packages, 200, headers=headers).json()[0]["PackageId"]
        get(packages, 401, headers=headers | {"Mendix-ApiKey": wrong})
        described = get(f"{packages}/{package_id}", 200, params={"url": "true"}, headers=headers)
        location = described.json()["Url"]["Location"]
        token, name = location.split("/mda/", 1)[1].split("/", 1)
        get(location, 206, f"/mda/…/{name}", headers={"Range": "bytes=0-9"})
        logged = step.stderr
    assert logged.splitlines() == lines
    assert key not in logged
    assert wrong not in logged
    assert token not in logged


def test_a_request_line_shows_the_bytes_of_a_path_that_a_terminal_would_obey_escaped() -> None:
    """The path comes from the network: its control characters (C0, DEL, C1 as the request
    line's Latin-1 reads them: an escape sequence, a backspace, a CSI) are shown as
    %XX, so a client writes nothing onto the console that shows the simulator's lines."""
    service = BuildService(USER, API_KEY)
    with Simulator(service) as sim:
        with socket.create_connection(("127.0.0.1", urlsplit(sim.base_url).port)) as client:
            path = b"/api/1/\x1b[2J\x08\x7f\x9bx/caf\xe9"
            client.sendall(b"GET " + path + b" HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 401")
        (entry,) = sim.requests()
        assert entry.answered.wait(30)
    assert entry.line() == "GET /api/1/%1B[2J%08%7F%9Bx/caf%E9 401"


@pytest.mark.parametrize("length", ["abc", "-1", "\u00b2"])
def test_a_content_length_that_is_no_length_is_answered_400(length: str) -> None:
    """As any HTTP server answers a request it cannot frame (and no traceback on the
    simulator's console: the request used to end the connection with none)."""
    service = BuildService(USER, API_KEY)
    with (
        Simulator(service) as sim,
        socket.create_connection(("127.0.0.1", urlsplit(sim.base_url).port)) as client,
    ):
        head = f"POST /api/1/apps/calc/packages HTTP/1.1\r\nContent-Length: {length}\r\n\r\n"
        client.sendall(head.encode("latin-1") + b"{}")
        assert client.recv(1024).startswith(b"HTTP/1.1 400")


# -- the storage host over https ------------------------------------------------------------


def test_simulate_serves_the_storage_host_over_https_with_storage_tls(
    certificates: Certificates, tmp_path: Path
) -> None:
    """As real storage hosts are: the package location is https, and the step fetches it
    trusting the certificate's CA through REQUESTS_CA_BUNDLE (the API stays plain http on
    loopback; an https location is fetched from any API root)."""
    tls = f"{certificates.cert},{certificates.key}"
    with simulating("--storage-tls", tls, "--seed", "calc:1.0.0") as (step, base):
        banner = step.stdout.splitlines()
        assert "(storage host https://127.0.0.1:" in banner[0]
        (seeded,) = (line for line in banner if "package 1.0.0 Succeeded" in line)
        package_id = seeded.rsplit(" ", 1)[1]
        env = base_env(tmp_path) | {
            "MENDIX_BASE_URL": base,
            "MENDIX_APP_ID": "calc",
            "MENDIX_USERNAME": "demo@example.com",
            "MENDIX_API_KEY": "demo-api-key",
            "MENDIX_ARTIFACT_PATH": "calc.mda",
            "REQUESTS_CA_BUNDLE": str(certificates.ca),
        }
        fetched = run_entrypoint(env, tmp_path, "download", package_id)
        logged = step.stderr
    assert fetched.code == 0, fetched.stderr
    assert (tmp_path / "calc.mda").stat().st_size == DEFAULT_SIZE
    assert "GET /api/1/apps/calc/packages/" in logged
    assert "GET /mda/…/" in logged


def test_a_client_that_never_completes_a_handshake_holds_up_no_other(
    certificates: Certificates,
) -> None:
    service = BuildService(USER, API_KEY)
    service.add_app("calc")
    package = service.seed_package("calc", "1.0.0", size=1000)
    with (
        Simulator(service, storage_tls=(str(certificates.cert), str(certificates.key))) as sim,
        socket.create_connection(("127.0.0.1", urlsplit(sim.storage_url).port)) as silent,
    ):
        assert silent.fileno() >= 0  # connected, and it says nothing
        answer = requests.get(service.location(package), verify=str(certificates.ca), timeout=10)
    assert answer.status_code == 200
    assert answer.content == b"".join(content.stream(package.seed, 1000))


def test_a_client_that_leaves_an_https_download_is_no_traceback(
    certificates: Certificates, capfd: pytest.CaptureFixture[str]
) -> None:
    """A client that closes mid-download (a cut, a timeout) is normal over TLS as over plain
    http: the simulator's console shows no traceback. The connection's thread has ended (it
    would have printed one first) before stderr is read."""
    service = BuildService(USER, API_KEY)
    service.add_app("calc")
    package = service.seed_package("calc", "1.0.0", size=16 * 1024 * 1024)
    with Simulator(service, storage_tls=(str(certificates.cert), str(certificates.key))) as sim:
        idle = set(threading.enumerate())
        location = urlsplit(service.location(package))
        context = ssl.create_default_context(cafile=str(certificates.ca))
        with (
            socket.create_connection(("127.0.0.1", location.port)) as plain,
            context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(f"GET {location.path}?{location.query} HTTP/1.1\r\n\r\n".encode())
            assert tls.recv(1024).startswith(b"HTTP/1.1 200")
        (cut,) = sim.requests("storage")
        assert cut.answered.wait(30)
        deadline = time.monotonic() + 30
        while set(threading.enumerate()) - idle and time.monotonic() < deadline:
            time.sleep(0.01)
        assert set(threading.enumerate()) - idle == set()  # the connection's thread ended
    assert cut.sent < 16 * 1024 * 1024
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("server.pem", "'server.pem': expected CERT,KEY (two PEM files)"),
        ("missing.pem,missing.key", "missing.pem: no such file"),
        ("not-a-cert.pem,not-a-cert.pem", "not-a-cert.pem,not-a-cert.pem: not a certificate"),
    ],
)
def test_simulate_refuses_unusable_storage_tls_in_one_line(
    value: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "not-a-cert.pem").write_text("hello\n", encoding="ascii")
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "simulate", "--port", "0", "--storage-tls", value],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"Error: {message}"), line
