"""The download from an https storage host, as every real package location is: the
simulator's storage listener over TLS, its certificate of a test CA that the session
trusts, the step's download code on the fake clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ci_step.clock import Deadline
from ci_step.mendix import download
from ci_step.simulator import BuildService, Fault, Simulator, content
from tests.conftest import API_KEY, USER
from tests.relay import Certificates
from tests.rig import FakeClock

SIZE = 3_500_000  # three whole chunks and a part of one


@pytest.fixture
def tls_sim(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """The simulator, its storage host on https; the test CA is the one this process trusts
    (requests reads the bundle from the environment, as the step does)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    service = BuildService(USER, API_KEY)
    service.add_app("calc")
    with Simulator(service, storage_tls=(str(certificates.cert), str(certificates.key))) as sim:
        yield sim


def fetch(sim: Simulator, target: Path) -> tuple[download.Artifact, list[int], list[str]]:
    """The package of SIZE bytes fetched from its https location: the artifact, the byte
    counts progress was told and the notices."""
    package = sim.service.seed_package("calc", "1.0.0", size=SIZE)
    url = sim.service.location(package)
    assert url.startswith("https://127.0.0.1:")
    done: list[int] = []
    notices: list[str] = []
    storage = download.Storage(
        requests.Session(),
        Deadline(FakeClock(), 600),
        refresh=lambda: url,
        progress=lambda count, total: done.append(count),
        notice=notices.append,
        api_root=sim.base_url,
    )
    artifact = download.fetch(storage, url, target, SIZE, target.parent)
    assert artifact.sha256 == content.sha256(package.seed, SIZE)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == artifact.sha256
    return artifact, done, notices


def test_the_package_is_read_in_whole_chunks_over_tls(tls_sim: Simulator, tmp_path: Path) -> None:
    """A read over TLS returns one record (16 KiB) at a time; the step asks for whole
    chunks, so the per-read work (handing bytes to the writer and the hasher, progress,
    the deadline) happens once per chunk, not once per record."""
    _, done, _ = fetch(tls_sim, tmp_path / "app.mda")
    chunk = download.CHUNK
    assert chunk >= 16 * 16 * 1024  # at least sixteen records
    assert done == [chunk, 2 * chunk, 3 * chunk, SIZE]


def test_a_cut_over_tls_resumes_at_the_last_byte_that_arrived(
    tls_sim: Simulator, tmp_path: Path
) -> None:
    """The storage host closes the connection partway through a chunk: what arrived of
    that chunk is kept, and the resume asks for the rest from exactly there."""
    cut = download.CHUNK + 12_345
    tls_sim.add_fault(Fault("truncate", listener="storage", after_bytes=cut))
    artifact, _, notices = fetch(tls_sim, tmp_path / "app.mda")
    assert artifact.size == SIZE
    ranges = [r.headers.get("range") for r in tls_sim.requests("storage")]
    assert ranges == [None, f"bytes={cut}-"]
    assert [notice.split("; ")[-1] for notice in notices] == [f"resuming at byte {cut}"]
