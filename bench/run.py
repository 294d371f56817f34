"""Benchmarks: polling, downloads (loopback, a 1 Gbit/s link), cold start; a Markdown table.

    python bench/run.py            # the full set (about 6 minutes, 2 GB of scratch disk)
    python bench/run.py --quick    # one build each, smaller downloads (about 1 minute)
    python bench/run.py --only download   # or polling, limited-link, cold-start

1. Polling: builds of 30 s, 5 min and 20 min on the simulator, whose clock and the step's
   run scaled (every build takes about 10 s) so request counts are unchanged. The
   step's schedule against a fixed 10-second poll: status requests and detection lag
   (terminal status on the server -> the step knows), median over several builds whose
   lengths vary by +-10 %.
2. Download: a 256 MiB and a 1 GiB package from the simulator (a separate process) on
   loopback, `mendix-build download` alternating with `curl -o f URL && sha256sum f` of
   the same storage URL (asked for once, with curl, beforehand). Rows:
   - throughput of the transfer itself: ours from the log's "Downloading package" to
     "Package downloaded" (the file hashed, size- and ZIP-checked, renamed), curl's from
     its own `time_total`; and the peak RSS of our whole process (under GNU time: see
     ``measured``);
   - SHA-256 alone over as many bytes in memory: the ceiling for any download that hashes;
   - time to a verified file, whole commands as a pipeline waits for them: ours from
     process start to exit (Python's start-up and the API call for the location
     included), against curl's run plus sha256sum's; then the fetch and hash alone.
3. A 1 Gbit/s link over https (root only; skipped with the reason otherwise): the 1 GiB
   package (256 MiB with --quick) across a veth pair whose server end sends through a
   `tbf` qdisc at 1 Gbit/s, `mendix-build download` alternating with `curl -o`. The storage
   host speaks https, as every real package location is: the simulator serves it with
   `--storage-tls` and a certificate made for the run (openssl, a CA of its own, for the
   storage address), which the step trusts through REQUESTS_CA_BUNDLE and curl through
   --cacert, as a user with a private CA would set them; the API root stays plain http on
   a loopback address (an https location is fetched from any API root). Rows: throughput
   as in 2; then the whole processes, each run under GNU time: wall time, CPU time (user +
   system) and peak RSS. The bench makes two network namespaces of its own (names ending
   in its pid) and deletes them afterwards, also on an error, Ctrl-C or SIGTERM; the /30
   between them (10.250.0.0/30) exists only inside them. An API root may be plain http
   only on a loopback address, so the simulator listens on 127.100.0.1, given to the
   server namespace's `lo`; the client namespace leaves `lo` down and routes that address
   over the veth (with `route_localnet` on both ends). Both the unmodified command and curl
   so cross the shaped link, API calls included. (Rejected: a harness calling the download
   code directly would skip the CLI and measure another process's CPU and RSS.)
4. Cold start: process start -> first request at the simulator, against
   `python -c 'import requests'`.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ci_step.clock import Deadline  # noqa: E402
from ci_step.config.inputs import INPUTS  # noqa: E402
from ci_step.config.validate import RawInput, validate  # noqa: E402
from ci_step.flow.build import start_build, wait_for_build  # noqa: E402
from ci_step.flow.plan import Plan  # noqa: E402
from ci_step.flow.services import Services  # noqa: E402
from ci_step.log import Logger  # noqa: E402
from ci_step.mendix.build_api import BuildApi  # noqa: E402
from ci_step.mendix.transport import Transport  # noqa: E402
from ci_step.report.ci_env import CiEnv, Platform  # noqa: E402
from ci_step.report.result import StepResult  # noqa: E402
from ci_step.simulator import BuildService, Durations, Simulator  # noqa: E402
from tests.relay import Certificates, make_certificates  # noqa: E402

USER, KEY = "bench@example.com", "bench-key-0000"
MIB = 1 << 20


class ScaledClock:
    """Real time, sped up by ``scale``: the step and the simulator share it."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def now(self) -> float:
        return time.monotonic() * self.scale

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)


def one_build(seconds: float, schedule: str) -> tuple[int, float]:
    """(status requests, detection lag in build seconds) for one build."""
    # About 10 s of real time per build: at that scale a request's real latency (a few
    # milliseconds) stays well under a second of build time.
    scale = max(1.0, seconds / 10.0)
    clock = ScaledClock(scale)
    service = BuildService(
        USER, KEY, durations=Durations(0.1 * seconds, 0.8 * seconds, 0.1 * seconds), clock=clock.now
    )
    service.add_app("calc")
    with Simulator(service) as sim:
        values = {
            "app-id": "calc",
            "username": USER,
            "api-key": KEY,
            "revision": "abcdef1",
            "version": "1.0.0",
            "base-url": sim.base_url,
            "timeout": "2h",
        }
        raw = {s.name: RawInput(values.get(s.name, s.default), s.name) for s in INPUTS}
        config = validate(raw, CiEnv(Platform.LOCAL, {}))
        deadline = Deadline(clock, config.timeout)
        api = BuildApi(config.base_url, USER, KEY, Transport(requests.Session(), deadline))
        services = Services(
            api, requests.Session(), deadline, clock, Logger("console", io.StringIO())
        )
        plan = Plan("calc", "main", "abcdef1", "1.0.0", "bench")
        package_id = start_build(plan, services)
        package = service.apps["calc"].packages[0]
        before = len(sim.requests("api", "GET"))
        if schedule == "ours":
            wait_for_build(services, config.app_id, package_id, config.poll_interval, StepResult())
        else:
            while not api.get_package("calc", package_id).terminal:
                clock.sleep(10.0)
        done_at = service._epoch + package.created_at + seconds
        return len(sim.requests("api", "GET")) - before, clock.now() - done_at


def polling(runs: int) -> list[list[str]]:
    rng = random.Random(7)
    rows = []
    for label, seconds in (("30 s", 30.0), ("5 min", 300.0), ("20 min", 1200.0)):
        lengths = [seconds * rng.uniform(0.9, 1.1) for _ in range(runs)]
        ours = [one_build(length, "ours") for length in lengths]
        fixed = [one_build(length, "fixed") for length in lengths]
        ours_requests = statistics.median(r for r, _ in ours)
        fixed_requests = statistics.median(r for r, _ in fixed)
        ours_lag = statistics.median(lag for _, lag in ours)
        fixed_lag = statistics.median(lag for _, lag in fixed)
        rows.append(
            [
                f"build {label}: status requests",
                f"{ours_requests:.0f}",
                f"{fixed_requests:.0f}",
                f"{ours_requests / fixed_requests:.2f}",
            ]
        )
        rows.append(
            [
                f"build {label}: detection lag",
                f"{ours_lag:.1f} s ({100 * ours_lag / seconds:.1f} %)",
                f"{fixed_lag:.1f} s ({100 * fixed_lag / seconds:.1f} %)",
                f"{ours_lag / fixed_lag:.2f}" if fixed_lag > 0 else "-",
            ]
        )
    return rows


def start_simulator(
    size: int, host: str = "127.0.0.1", wrap: Sequence[str] = (), tls: Certificates | None = None
) -> tuple[subprocess.Popen[str], str, str]:
    """The simulator as a process of its own (``wrap``: e.g. ``ip netns exec NAME``); with
    ``tls``, its storage host speaks https with that certificate."""
    https = ["--storage-tls", f"{tls.cert},{tls.key}"] if tls is not None else []
    process = subprocess.Popen(
        [
            *wrap,
            sys.executable,
            str(ROOT / "entrypoint.py"),
            "simulate",
            "--host",
            host,
            "--port",
            "0",
            "--app",
            "calc",
            "--username",
            USER,
            "--api-key",
            KEY,
            "--package-size",
            str(size),
            "--seed",
            "calc:1.0.0",
            *https,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    base = package = ""
    for line in process.stdout:
        if " at http" in line:
            base = line.split(" at ", 1)[1].split()[0]
        if "package 1.0.0" in line:
            package = line.rsplit(" ", 1)[1].strip()
        if line.startswith("Stop with"):
            break
    if not base or not package:
        process.kill()
        process.wait()
        raise RuntimeError(f"the simulator did not start (exit {process.returncode})")
    return process, base, package


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class Ours:
    """One `mendix-build download`."""

    transfer: float  # seconds from "Downloading package" to "Package downloaded" (verified)
    wall: float  # seconds from process start to exit: what a pipeline waits
    rss: int  # peak RSS of the process, bytes
    cpu: float  # user + system seconds of the process


@dataclass(frozen=True)
class Curl:
    """One `curl -o f URL && sha256sum f`."""

    transfer: float  # curl's own time_total: connect to the last byte written
    fetch: float  # seconds from curl's start to its exit
    hash: float  # seconds from sha256sum's start to its exit (the file is in the page cache)
    rss: int  # peak RSS of curl, bytes
    cpu: float  # user + system seconds of curl

    @property
    def verified(self) -> float:
        return self.fetch + self.hash


@dataclass(frozen=True)
class Usage:
    """What a command used, as GNU time reports it for the process it runs."""

    cpu: float  # user + system seconds
    rss: int  # peak RSS, bytes


def measured(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[str, str, Usage]:
    """stdout, stderr and the resource usage of ``argv``; RuntimeError if it failed.

    Run under GNU time rather than reaped with os.wait4 here: a child's peak RSS counts the
    memory of the process it was spawned from (exec records the old address space's high
    water mark, and a vfork child's is this process's, some 40 MiB), so only a small
    process in between, such as time, gives the command's own. `ip netns exec` execs the
    command: its usage is that of the command."""
    with tempfile.NamedTemporaryFile(mode="r", encoding="ascii", suffix=".time") as report:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *argv],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
        user, system, rss = report.read().split()[-3:]
    return done.stdout, done.stderr, Usage(float(user) + float(system), int(rss) * 1024)


def download_once(
    base: str, package: str, workdir: Path, wrap: Sequence[str] = (), ca: Path | None = None
) -> Ours:
    """`mendix-build download` of ``package``; ``ca``: the CA bundle it is given, as a user
    with a private CA gives it (REQUESTS_CA_BUNDLE)."""
    env = {
        "PATH": os.environ["PATH"],
        "MENDIX_APP_ID": "calc",
        "MENDIX_USERNAME": USER,
        "MENDIX_API_KEY": KEY,
        "MENDIX_BASE_URL": base,
        "MENDIX_LOG_FORMAT": "json",
        "MENDIX_ARTIFACT_PATH": "ours.mda",  # in the workspace: the working directory
    }
    if ca is not None:
        env["REQUESTS_CA_BUNDLE"] = str(ca)
    started = time.monotonic()
    _, stderr, usage = measured(
        [*wrap, sys.executable, str(ROOT / "entrypoint.py"), "download", package],
        env=env,
        cwd=workdir,
    )
    wall = time.monotonic() - started
    events = {e["event"]: e for e in map(json.loads, stderr.splitlines())}
    began = datetime.fromisoformat(events["Downloading package"]["timestamp"])
    ended = datetime.fromisoformat(events["Package downloaded"]["timestamp"])
    (workdir / "ours.mda").unlink()
    return Ours((ended - began).total_seconds(), wall, usage.rss, usage.cpu)


def storage_location(base: str, package: str, wrap: Sequence[str] = ()) -> str:
    """The package's storage URL, asked as a script would (curl, from where curl runs)."""
    answer = subprocess.run(
        [
            *wrap,
            "curl",
            "-sS",
            "-H",
            f"Mendix-Username: {USER}",
            "-H",
            f"Mendix-ApiKey: {KEY}",
            f"{base}/api/1/apps/calc/packages/{package}?url=true",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(answer.stdout)["Url"]["Location"])


def curl_once(
    url: str, workdir: Path, wrap: Sequence[str] = (), verify: bool = True, ca: Path | None = None
) -> Curl:
    """`curl -o f URL && sha256sum f` (the sha256sum only with ``verify``); ``ca``: the CA
    bundle curl trusts (--cacert)."""
    target = workdir / "curl.mda"
    trust = ["--cacert", str(ca)] if ca is not None else []
    started = time.monotonic()
    stdout, _, usage = measured(
        [*wrap, "curl", "-sS", *trust, "-o", str(target), "-w", "%{time_total}", url]
    )
    fetched = time.monotonic()
    if verify:
        subprocess.run(["sha256sum", str(target)], check=True, stdout=subprocess.DEVNULL)
    hashed = time.monotonic()
    target.unlink()
    return Curl(
        float(stdout.strip()),
        fetched - started,
        hashed - fetched,
        usage.rss,
        usage.cpu,
    )


def alternate(
    runs: int,
    base: str,
    package: str,
    wrap: Sequence[str] = (),
    verify: bool = True,
    ca: Path | None = None,
) -> tuple[list[Ours], list[Curl]]:
    """``runs`` of ours and of curl, one after the other, in a scratch directory here."""
    url = storage_location(base, package, wrap)
    ours, theirs = [], []
    with tempfile.TemporaryDirectory(dir=ROOT) as work:
        for _ in range(runs):
            ours.append(download_once(base, package, Path(work), wrap, ca))
            theirs.append(curl_once(url, Path(work), wrap, verify, ca))
    return ours, theirs


def spread(values: list[float]) -> str:
    """ "median (min-max)" of a list of seconds."""
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def downloads(runs: int, sizes: list[int]) -> list[list[str]]:
    missing = missing_tools()
    if missing:
        print(f"skipped the download rows: {missing}", file=sys.stderr)
        return [["download: skipped", missing, "", ""]]
    rows = []
    for size in sizes:
        process, base, package = start_simulator(size)
        try:
            ours, theirs = alternate(runs, base, package)
        finally:
            stop(process)
        name = f"{size // MIB} MiB"
        us = statistics.median(size / o.transfer for o in ours)
        curl = statistics.median(size / c.transfer for c in theirs)
        rows.append(
            [
                f"download {name}: throughput",
                f"{us / MIB:.0f} MiB/s",
                f"{curl / MIB:.0f} MiB/s (curl)",
                f"{us / curl:.2f}",
            ]
        )
        rows.append(
            [f"download {name}: peak RSS", f"{max(o.rss for o in ours) / MIB:.1f} MiB", "", ""]
        )
        hashing = statistics.median(sha256_rate(size) for _ in range(runs))
        rows.append(
            [
                f"sha256 of {name} in memory (ceiling)",
                f"{hashing / MIB:.0f} MiB/s",
                f"{curl / MIB:.0f} MiB/s (curl)",
                f"{hashing / curl:.2f}",
            ]
        )
        rows += verified_rows(name, ours, theirs)
    return rows


def verified_rows(name: str, ours: list[Ours], theirs: list[Curl]) -> list[list[str]]:
    """Time to a verified file against `curl -o f URL && sha256sum f`: whole commands (ours
    includes Python's start-up, the API call for the location and the exit), then the fetch
    and hash alone (ours: the transfer, verified; theirs: curl's and sha256sum's times)."""
    us = statistics.median(o.wall for o in ours)
    script = statistics.median(c.verified for c in theirs)
    transfer = statistics.median(o.transfer for o in ours)
    fetch = statistics.median(c.fetch for c in theirs)
    hashing = statistics.median(c.hash for c in theirs)
    return [
        [
            f"verified file {name}: time (goal <= 0.50)",
            spread([o.wall for o in ours]),
            f"{spread([c.verified for c in theirs])} (curl && sha256sum)",
            f"{us / script:.2f}",
        ],
        [
            f"verified file {name}: fetch and hash only",
            f"{transfer:.2f} s",
            f"{fetch:.2f} s curl + {hashing:.2f} s sha256sum",
            f"{transfer / script:.2f}",
        ],
    ]


LINK_RATE = "1gbit"
LINK_SERVER = "127.100.0.1"  # assigned in the server namespace; the client reaches it via veth
LINK_NET = ("10.250.0.1", "10.250.0.2")  # a private /30 that exists only in the two namespaces


class LimitedLink:
    """Two network namespaces of this process's own, joined by a veth pair whose server
    end sends through a ``tbf`` qdisc at LINK_RATE; removed on exit, whatever happened.

    The simulator listens on LINK_SERVER, a 127/8 address given to the server namespace's
    `lo`. The client namespace has no `lo` up, so 127/8 is not local there: a route sends
    LINK_SERVER over the veth, and ``route_localnet`` on both veth ends lets such packets
    pass. So the unmodified `mendix-build download` (whose API root may be plain http to
    a loopback address; its storage host is https there) and curl both fetch across the
    shaped link.
    """

    def __init__(self) -> None:
        tag = str(os.getpid())[-7:]
        self.server, self.client = f"mb-srv-{tag}", f"mb-cli-{tag}"
        self.veth = (f"mbs{tag}", f"mbc{tag}")

    def in_server(self) -> list[str]:
        return ["ip", "netns", "exec", self.server]

    def in_client(self) -> list[str]:
        return ["ip", "netns", "exec", self.client]

    def _setup(self) -> list[list[str]]:
        (srv, cli), (srv_ip, cli_ip) = self.veth, LINK_NET
        localnet = "echo 1 > /proc/sys/net/ipv4/conf/{}/route_localnet"
        # burst: 256 KiB (four 64 KiB GSO segments); latency bounds the queue at 50 ms
        tbf = ["rate", LINK_RATE, "burst", "256kb", "latency", "50ms"]
        return [
            ["ip", "netns", "add", self.server],
            ["ip", "netns", "add", self.client],
            ["ip", "link", "add", srv, "type", "veth", "peer", "name", cli],
            ["ip", "link", "set", srv, "netns", self.server],
            ["ip", "link", "set", cli, "netns", self.client],
            ["ip", "-n", self.server, "addr", "add", f"{srv_ip}/30", "dev", srv],
            ["ip", "-n", self.client, "addr", "add", f"{cli_ip}/30", "dev", cli],
            ["ip", "-n", self.server, "addr", "add", f"{LINK_SERVER}/32", "dev", "lo"],
            [*self.in_server(), "sh", "-c", localnet.format(srv)],
            [*self.in_client(), "sh", "-c", localnet.format(cli)],
            ["ip", "-n", self.server, "link", "set", "lo", "up"],
            ["ip", "-n", self.server, "link", "set", srv, "up"],
            ["ip", "-n", self.client, "link", "set", cli, "up"],
            ["ip", "-n", self.client, "route", "add", f"{LINK_SERVER}/32", "via", srv_ip],
            [*self.in_server(), "tc", "qdisc", "add", "dev", srv, "root", "tbf", *tbf],
        ]

    def __enter__(self) -> LimitedLink:
        try:
            for argv in self._setup():
                subprocess.run(argv, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            self.close()
            raise OSError(f"{' '.join(exc.cmd)}: {exc.stderr.strip()}") from None
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        # Deleting a namespace deletes the veth end in it, and so the pair.
        for name in (self.server, self.client):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth[0]], check=False, capture_output=True)

    def __exit__(self, *_: object) -> None:
        self.close()


def cannot_shape() -> str:
    """Why the 1 Gbit/s link rows cannot run here; empty when they can."""
    if os.geteuid() != 0:
        return "not root (network namespaces and tc need it)"
    return missing_tools("ip", "tc", "openssl")


TOOLS = {"ip": "iproute2", "tc": "iproute2", "/usr/bin/time": "time"}


def missing_tools(*more: str) -> str:
    """Which of curl, GNU time and ``more`` are not installed, and how to get them."""
    missing = [tool for tool in ("curl", "/usr/bin/time", *more) if shutil.which(tool) is None]
    if not missing:
        return ""
    packages = " ".join(dict.fromkeys(TOOLS.get(tool, tool) for tool in missing))
    return f"{', '.join(missing)} not found (apt-get install -y {packages})"


def limited_link(runs: int, size: int) -> list[list[str]]:
    label = f"1 Gbit/s https: {size // MIB} MiB"
    reason = cannot_shape()
    if reason:
        print(f"skipped the 1 Gbit/s link rows: {reason}", file=sys.stderr)
        return [[f"{label}: skipped", reason, "", ""]]
    # A SIGTERM should tear the namespaces down too: make it unwind like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        with LimitedLink() as link, tempfile.TemporaryDirectory() as keys:
            tls = make_certificates(Path(keys), LINK_SERVER)
            process, base, package = start_simulator(size, LINK_SERVER, link.in_server(), tls)
            try:
                ours, theirs = alternate(
                    runs, base, package, link.in_client(), verify=False, ca=tls.ca
                )
            finally:
                stop(process)
    except OSError as exc:
        print(f"skipped the 1 Gbit/s link rows: {exc}", file=sys.stderr)
        return [[f"{label}: skipped", "cannot set up the link", "", ""]]
    finally:
        signal.signal(signal.SIGTERM, previous)
    return link_rows(label, size, ours, theirs)


def link_rows(label: str, size: int, ours: list[Ours], theirs: list[Curl]) -> list[list[str]]:
    """Throughput of the transfer (ours: from "Downloading package" to "Package
    downloaded", the file verified; curl: its time_total), then whole processes: wall time,
    CPU time (user + system) and peak RSS."""
    us = statistics.median(size / o.transfer for o in ours)
    curl = statistics.median(size / c.transfer for c in theirs)
    wall = statistics.median(o.wall for o in ours) / statistics.median(c.fetch for c in theirs)
    cpu = statistics.median(o.cpu for o in ours) / statistics.median(c.cpu for c in theirs)
    ours_rss, curl_rss = max(o.rss for o in ours) / MIB, max(c.rss for c in theirs) / MIB
    return [
        [
            f"{label}: throughput (goal >= 0.97)",
            f"{us / MIB:.1f} MiB/s",
            f"{curl / MIB:.1f} MiB/s (curl)",
            f"{us / curl:.3f}",
        ],
        [
            f"{label}: wall time, whole process",
            spread([o.wall for o in ours]),
            f"{spread([c.fetch for c in theirs])} (curl)",
            f"{wall:.2f}",
        ],
        [
            f"{label}: CPU time, user + sys (goal <= 2.00)",
            spread([o.cpu for o in ours]),
            f"{spread([c.cpu for c in theirs])} (curl)",
            f"{cpu:.2f}",
        ],
        [
            f"{label}: peak RSS (goal <= 60 MiB)",
            f"{ours_rss:.1f} MiB",
            f"{curl_rss:.1f} MiB (curl)",
            f"{ours_rss / curl_rss:.2f}",
        ],
    ]


def _exit_on_term(signum: int, _: object) -> None:
    raise SystemExit(128 + signum)


def sha256_rate(size: int) -> float:
    """Bytes per second of hashlib's SHA-256 alone: the most a verified download can do."""
    block = memoryview(os.urandom(MIB))
    hasher = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(size // MIB):
        hasher.update(block)
    return size / (time.perf_counter() - started)


def cold_start(runs: int) -> list[list[str]]:
    bare, ours = [], []
    service = BuildService(USER, KEY)
    service.add_app("calc")
    env = {
        "PATH": os.environ["PATH"],
        "MENDIX_APP_ID": "calc",
        "MENDIX_USERNAME": USER,
        "MENDIX_API_KEY": KEY,
        "MENDIX_REVISION": "abcdef1",
        "MENDIX_VERSION": "1.0.0",
        "MENDIX_TIMEOUT": "5",
    }
    with Simulator(service) as sim:
        for _ in range(runs):
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", "import requests"], check=True)
            bare.append(time.monotonic() - started)
            count = len(sim.requests())
            started = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "entrypoint.py")],
                env=env | {"MENDIX_BASE_URL": sim.base_url},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while len(sim.requests()) == count:
                time.sleep(0.0005)
            ours.append(sim.requests()[count].at - started)
            process.kill()
            process.wait()
    b, o = statistics.median(bare), statistics.median(ours)
    return [
        [
            "cold start: process start -> first request",
            f"{o * 1000:.0f} ms",
            f"{b * 1000:.0f} ms (import requests)",
            f"{o / b:.2f}",
        ]
    ]


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        match = re.search(r"model name\s*:\s*(.+)", info.read())
        if match:
            cpu = match.group(1).strip()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, 64/256 MiB download")
    parser.add_argument(
        "--only",
        choices=["polling", "download", "limited-link", "cold-start"],
        help="run one section",
    )
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    sizes = [64 * MIB, 256 * MIB] if args.quick else [256 * MIB, 1024 * MIB]
    every: dict[str, Callable[[], list[list[str]]]] = {
        "polling": lambda: polling(runs),
        "download": lambda: downloads(3, sizes),
        "limited-link": lambda: limited_link(3, sizes[-1]),
        "cold-start": lambda: cold_start(15),
    }
    sections = [every[args.only]] if args.only else list(every.values())
    # Byte-compiled as an installed package is (pip compiles at install): with
    # PYTHONDONTWRITEBYTECODE set, every run of a fresh checkout would compile it again.
    compileall.compile_dir(ROOT / "ci_step", quiet=1)
    rows = [["measure (median)", "mendix-build", "baseline", "ratio"]]
    for section in sections:
        rows += section()
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    print(f"Measured {datetime.now().date()} on {machine()}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
