"""What the runner hands over is trusted only as far as the user meant it: proxies and CA
bundles from the environment are used, credentials from ~/.netrc never leave the step,
and a storage host of an https API cannot send the runner to its own local services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_step.errors import DownloadError
from ci_step.mendix import download
from ci_step.simulator import BuildService, Fault, Simulator
from tests.conftest import (
    API_KEY,
    Run,
    base_env,
    inputs,
    mendix_env,
    run_entrypoint,
)
from tests.relay import Certificates, Relay, make_certificates, running

PAT = "pat-5e4d3c2b1a0f-SECRET"
NETRC_USER, NETRC_PASSWORD = "netrc-user", "netrc-Pa55word"


def local_run(workspace: Path, values: dict[str, str], **extra: str) -> Run:
    """The entrypoint outside any CI, with ``extra`` environment variables."""
    env = base_env(workspace.parent) | mendix_env(values | {"result-file": "result.json"})
    return run_entrypoint(env | extra, workspace)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def api_front(sim: Simulator, certificates: Certificates) -> Iterator[Relay]:
    """The simulator's API behind https on loopback, with a certificate of the test CA."""
    with running(Relay(sim.base_url, certificates)) as relay:
        yield relay


# -- ~/.netrc ------------------------------------------------------------------------------


def test_credentials_in_netrc_go_to_no_host(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """requests sends the ~/.netrc entry of a host as Basic auth unless told otherwise:
    neither the API, nor the App Repository API (whose token it would replace), nor the
    storage host may get it."""
    netrc = workspace.parent / ".netrc"
    netrc.write_text(
        f"machine 127.0.0.1 login {NETRC_USER} password {NETRC_PASSWORD}\n", encoding="ascii"
    )
    netrc.chmod(0o600)
    service.pat = PAT
    values = inputs(
        sim,
        revision="latest",
        pat=PAT,
        project_id=service.apps["calc"].project_id,
        repository_url=sim.base_url,
        environment="Acceptance",
    )
    run = local_run(workspace, values)
    assert run.code == 0, run.stderr
    (repository,) = sim.requests("api", path="^/v1/")
    assert repository.headers["authorization"] == f"MxToken {PAT}"
    others = [r for r in sim.requests() if r is not repository]
    assert {r.listener for r in others} == {"api", "storage"}
    assert [r.path for r in others if "authorization" in r.headers] == []
    assert len(others) >= 10


# -- proxies and CA bundles from the environment -------------------------------------------


@pytest.mark.parametrize("no_proxy", ["", "127.0.0.1"])
def test_http_proxy_and_no_proxy_are_honoured(
    sim: Simulator, workspace: Path, no_proxy: str
) -> None:
    with running(Relay()) as proxy:
        extra = {"HTTP_PROXY": proxy.url} | ({"NO_PROXY": no_proxy} if no_proxy else {})
        run = local_run(workspace, inputs(sim), **extra)
    assert run.code == 0, run.stderr
    through = {seen.url.split("?")[0] for seen in proxy.seen}
    if no_proxy:
        assert through == set()
        return
    assert f"{sim.base_url}/api/1/apps/calc/packages" in through
    assert any(url.startswith(f"{sim.storage_url}/mda/") for url in through)
    assert len(proxy.seen) == len(sim.requests())
    assert all(seen.headers.get("mendix-apikey") == API_KEY for seen in proxy.seen[:1])


def test_requests_ca_bundle_is_honoured(
    sim: Simulator, api_front: Relay, certificates: Certificates, workspace: Path
) -> None:
    values = inputs(sim, base_url=api_front.url, download="false")
    run = local_run(workspace, values, REQUESTS_CA_BUNDLE=str(certificates.ca))
    assert run.code == 0, run.stderr
    assert len(api_front.seen) == len(sim.requests("api")) > 0
    assert [seen.url for seen in api_front.seen if seen.method == "POST"] == [
        "/api/1/apps/calc/packages"
    ]


# -- plain http to loopback only from a loopback API ------------------------------------------


def test_an_https_api_cannot_send_the_download_to_plain_http_on_loopback(
    sim: Simulator, api_front: Relay, certificates: Certificates, workspace: Path
) -> None:
    """The simulator's package location is its plain http storage host on 127.0.0.1: from
    an API at an https root, that is a local service of the runner, never fetched."""
    values = inputs(sim, base_url=api_front.url)
    run = local_run(workspace, values, REQUESTS_CA_BUNDLE=str(certificates.ca))
    assert run.code == 6, run.stderr
    assert run.result()["error"]["message"] == (  # type: ignore[index]
        "The package location from the Mendix API goes to http://127.0.0.1; it was not "
        "followed: a package is fetched over https only (plain http to a loopback address "
        "only when `MENDIX_BASE_URL` is one too)."
    )
    assert sim.requests("storage") == []
    assert list(workspace.glob("*.mda*")) == []


def test_an_https_storage_host_cannot_redirect_to_plain_http_on_loopback(
    sim: Simulator,
    service: BuildService,
    api_front: Relay,
    certificates: Certificates,
    workspace: Path,
) -> None:
    local = f"{sim.storage_url}/admin/delete-everything"  # the plain http listener
    with running(Relay(sim.storage_url, certificates)) as storage_front:
        service.storage_base = storage_front.url  # locations are https now
        sim.add_fault(Fault("redirect", listener="storage", location=local))
        values = inputs(sim, base_url=api_front.url)
        run = local_run(workspace, values, REQUESTS_CA_BUNDLE=str(certificates.ca))
    assert run.code == 6, run.stderr
    assert "Redirect 1 of the download goes to http://127.0.0.1; it was not followed" in (
        run.stderr
    ), run.stderr
    (only,) = sim.requests("storage")  # the hop to plain http was never requested
    assert only.path.startswith("/mda/")
    assert list(workspace.glob("*.mda*")) == []


@pytest.mark.parametrize(
    ("location", "api_root", "allowed"),
    [
        ("http://127.0.0.1:9/x.mda", "http://127.0.0.1:8080", True),
        ("http://localhost/x.mda", "http://[::1]:8080", True),
        ("https://127.0.0.1/x.mda", "https://deploy.mendix.com", True),
        ("https://s3.example.com/x.mda", "https://deploy.mendix.com", True),
        ("http://127.0.0.1:9/x.mda", "https://deploy.mendix.com", False),
        ("http://localhost/x.mda", "https://127.0.0.1:8443", False),
        ("http://[::1]/x.mda", "https://deploy.mendix.com", False),
        ("http://s3.example.com/x.mda", "http://127.0.0.1:8080", False),
    ],
)
def test_plain_http_to_loopback_only_from_a_loopback_http_api_root(
    location: str, api_root: str, allowed: bool
) -> None:
    if allowed:
        assert download.check_location(location, "The location", api_root) == location
        return
    with pytest.raises(
        DownloadError, match=r"^The location goes to http://.*; it was not followed"
    ):
        download.check_location(location, "The location", api_root)
