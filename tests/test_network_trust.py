"""What the runner hands over is trusted only as far as the user meant it: proxies and CA
bundles from the environment are used, for the API and the storage host alike, the Mendix
credentials go to the API's origin only, credentials from ~/.netrc never leave the step,
a certificate that does not verify ends the step at once with a way to trust a private
CA, and a storage host of an https API cannot send the runner to its own local services.

The https storage host is the simulator's own storage listener over TLS
(``storage_tls``), as real storage hosts are; an https API is the simulator's API behind
a TLS front (tests.relay)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_step.errors import DownloadError
from ci_step.mendix import download
from ci_step.simulator import BuildService, Fault, Simulator, content
from tests.conftest import (
    API_KEY,
    USER,
    Run,
    base_env,
    inputs,
    mendix_env,
    run_entrypoint,
)
from tests.relay import Certificates, Relay, running

PAT = "pat-5e4d3c2b1a0f-SECRET"
CREDENTIALS = ("mendix-username", "mendix-apikey", "authorization")
NETRC_USER, NETRC_PASSWORD = "netrc-user", "netrc-Pa55word"


def local_run(workspace: Path, values: dict[str, str], **extra: str) -> Run:
    """The entrypoint outside any CI, with ``extra`` environment variables."""
    env = base_env(workspace.parent) | mendix_env(values | {"result-file": "result.json"})
    return run_entrypoint(env | extra, workspace)


@pytest.fixture
def api_front(sim: Simulator, certificates: Certificates) -> Iterator[Relay]:
    """The simulator's API behind https on loopback, with a certificate of the test CA."""
    with running(Relay(sim.base_url, certificates)) as relay:
        yield relay


@pytest.fixture
def tls_sim(service: BuildService, certificates: Certificates) -> Iterator[Simulator]:
    """The simulator with its storage host on https, its certificate of the test CA."""
    tls = (str(certificates.cert), str(certificates.key))
    with Simulator(service, storage_tls=tls) as simulator:
        yield simulator


def assert_credentials_only_at_the_api(sim: Simulator) -> None:
    """Every API request carries the Mendix credentials; no storage request any."""
    api, storage = sim.requests("api"), sim.requests("storage")
    assert api, "no API request"
    assert storage, "no storage request"
    assert all(r.headers.get("mendix-username") == USER for r in api)
    assert all(r.headers.get("mendix-apikey") == API_KEY for r in api)
    assert [r.path for r in storage if set(CREDENTIALS) & set(r.headers)] == []


def assert_package_arrived(run: Run, service: BuildService) -> None:
    assert run.code == 0, run.stderr
    (package,) = service.apps["calc"].packages
    data = (run.workspace / "calc-1.2.3.mda").read_bytes()
    assert hashlib.sha256(data).hexdigest() == content.sha256(package.seed, package.size)


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
    # the proxy, passing plain http on, sees the key only on requests to the API's origin
    to_api = [seen for seen in proxy.seen if seen.url.startswith(f"{sim.base_url}/")]
    to_storage = [seen for seen in proxy.seen if seen.url.startswith(f"{sim.storage_url}/")]
    assert len(to_api) + len(to_storage) == len(proxy.seen)
    assert all(seen.headers.get("mendix-apikey") == API_KEY for seen in to_api)
    assert [seen.url for seen in to_storage if set(CREDENTIALS) & set(seen.headers)] == []


@pytest.mark.parametrize(
    ("no_proxy", "tunnelled"),
    [("", {"api", "storage"}), ("localhost", {"api"}), ("127.0.0.1", {"storage"})],
)
def test_https_proxy_and_no_proxy_reach_the_api_and_the_storage_host_alike(
    tls_sim: Simulator,
    service: BuildService,
    certificates: Certificates,
    workspace: Path,
    no_proxy: str,
    tunnelled: set[str],
) -> None:
    """HTTPS_PROXY: the API (https on 127.0.0.1) and the storage host (https, named
    localhost here so NO_PROXY can tell the two apart) are each reached through a CONNECT
    tunnel unless NO_PROXY names their host; the tunnel carries TLS to the host itself
    (the CA bundle verifies it end to end), and the proxy sees no credential."""
    storage = tls_sim.storage_url.replace("127.0.0.1", "localhost")
    service.storage_base = storage
    with running(Relay(tls_sim.base_url, certificates)) as api, running(Relay()) as proxy:
        hosts = {"api": api.url.split("//")[1], "storage": storage.split("//")[1]}
        extra = {"HTTPS_PROXY": proxy.url, "REQUESTS_CA_BUNDLE": str(certificates.ca)}
        extra |= {"NO_PROXY": no_proxy} if no_proxy else {}
        run = local_run(workspace, inputs(tls_sim, base_url=api.url), **extra)
    assert_package_arrived(run, service)
    assert {seen.method for seen in proxy.seen} == {"CONNECT"}
    assert {seen.url for seen in proxy.seen} == {hosts[name] for name in tunnelled}
    assert [seen.url for seen in proxy.seen if set(CREDENTIALS) & set(seen.headers)] == []
    assert_credentials_only_at_the_api(tls_sim)


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


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_an_https_storage_host_of_a_private_ca_is_trusted_through_the_ca_bundle(
    tls_sim: Simulator,
    service: BuildService,
    certificates: Certificates,
    workspace: Path,
    variable: str,
) -> None:
    """As real packages come: the location is https on the storage host, whose certificate
    (of a private CA here) verifies through the bundle the user names."""
    assert tls_sim.storage_url.startswith("https://")
    run = local_run(workspace, inputs(tls_sim), **{variable: str(certificates.ca)})
    assert_package_arrived(run, service)
    assert [r.path.split("/")[1] for r in tls_sim.requests("storage")] == ["mda"]
    assert_credentials_only_at_the_api(tls_sim)


def test_an_untrusted_storage_certificate_ends_the_download_at_once(
    tls_sim: Simulator, workspace: Path
) -> None:
    """No CA bundle: the storage host's certificate does not verify. No try can change
    that, so none is made again; the message says how to trust a private CA."""
    run = local_run(workspace, inputs(tls_sim))
    assert run.code == 6, run.stderr
    message = run.result()["error"]["message"]  # type: ignore[index]
    assert message == (
        "The certificate of the storage host https://127.0.0.1 is not trusted: unable to get "
        "local issuer certificate; the package was not fetched."
    )
    assert "set REQUESTS_CA_BUNDLE to a PEM file" in run.stderr
    assert "resuming" not in run.stderr
    assert tls_sim.requests("storage") == []  # no request went past the handshake
    assert [p.name for p in workspace.iterdir()] == ["result.json"]


def test_an_untrusted_api_certificate_ends_the_step_at_once(
    sim: Simulator, api_front: Relay, workspace: Path
) -> None:
    run = local_run(workspace, inputs(sim, base_url=api_front.url))
    assert run.code == 5, run.stderr
    assert run.result()["error"]["message"] == (  # type: ignore[index]
        "The certificate of 127.0.0.1 (from `MENDIX_BASE_URL`) is not trusted: unable to get "
        "local issuer certificate."
    )
    assert "set REQUESTS_CA_BUNDLE to a PEM file" in run.stderr
    assert "retrying" not in run.stderr
    assert api_front.seen == []
    assert sim.requests() == []


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
