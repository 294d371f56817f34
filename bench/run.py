"""Benchmarks around the build: polling, the download, cold start. Prints a Markdown table.

    python bench/run.py            # the full set (about 5 minutes, 2 GB of scratch disk)
    python bench/run.py --quick    # one build each, smaller downloads (about 2 minutes)

1. Polling: builds of 30 s, 5 min and 20 min on the simulator, whose clock and the step's
   run scaled (every build takes about 10 s) so request counts are unchanged. The
   step's schedule against a fixed 10-second poll: status requests and detection lag
   (terminal status on the server -> the step knows), median over several builds whose
   lengths vary by +-10 %.
2. Download: a 256 MiB and a 1 GiB package from the simulator (a separate process) on
   loopback, `mendix-build download` against `curl -o` of the same URL, alternating;
   throughput of the transfer itself and the peak RSS of our process; and SHA-256 alone
   over as many bytes in memory, the ceiling for any download that hashes what it gets.
3. Cold start: process start -> first request at the simulator, against
   `python -c 'import requests'`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def start_simulator(size: int) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "entrypoint.py"),
            "simulate",
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
    return process, base, package


def download_once(base: str, package: str, workdir: Path) -> tuple[float, int]:
    """(transfer seconds, peak RSS bytes) of `mendix-build download`."""
    env = {
        "PATH": os.environ["PATH"],
        "MENDIX_APP_ID": "calc",
        "MENDIX_USERNAME": USER,
        "MENDIX_API_KEY": KEY,
        "MENDIX_BASE_URL": base,
        "MENDIX_LOG_FORMAT": "json",
        "MENDIX_ARTIFACT_PATH": "ours.mda",  # in the workspace: the working directory
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "entrypoint.py"), "download", package],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(stderr)
    events = {e["event"]: e for e in map(json.loads, stderr.splitlines())}
    began = datetime.fromisoformat(events["Downloading package"]["timestamp"])
    ended = datetime.fromisoformat(events["Package downloaded"]["timestamp"])
    (workdir / "ours.mda").unlink()
    return (ended - began).total_seconds(), usage.ru_maxrss * 1024


def curl_once(base: str, package: str, workdir: Path) -> float:
    answer = requests.get(
        f"{base}/api/1/apps/calc/packages/{package}",
        params={"url": "true"},
        headers={"Mendix-Username": USER, "Mendix-ApiKey": KEY},
        timeout=30,
    )
    location = answer.json()["Url"]["Location"]
    started = time.monotonic()
    subprocess.run(["curl", "-sS", "-o", str(workdir / "curl.mda"), location], check=True)
    seconds = time.monotonic() - started
    (workdir / "curl.mda").unlink()
    return seconds


def downloads(runs: int, sizes: list[int]) -> list[list[str]]:
    rows = []
    rss: dict[int, float] = {}
    for size in sizes:
        process, base, package = start_simulator(size)
        try:
            with tempfile.TemporaryDirectory(dir=ROOT) as work:
                ours, theirs, peaks = [], [], []
                for _ in range(runs):
                    seconds, peak = download_once(base, package, Path(work))
                    ours.append(size / seconds)
                    peaks.append(peak)
                    theirs.append(size / curl_once(base, package, Path(work)))
        finally:
            process.terminate()
            process.wait(timeout=30)
        us, curl = statistics.median(ours), statistics.median(theirs)
        rss[size] = max(peaks)
        rows.append(
            [
                f"download {size // MIB} MiB: throughput",
                f"{us / MIB:.0f} MiB/s",
                f"{curl / MIB:.0f} MiB/s (curl)",
                f"{us / curl:.2f}",
            ]
        )
        rows.append([f"download {size // MIB} MiB: peak RSS", f"{rss[size] / MIB:.1f} MiB", "", ""])
        hashing = statistics.median(sha256_rate(size) for _ in range(runs))
        rows.append(
            [
                f"sha256 of {size // MIB} MiB in memory (ceiling)",
                f"{hashing / MIB:.0f} MiB/s",
                f"{curl / MIB:.0f} MiB/s (curl)",
                f"{hashing / curl:.2f}",
            ]
        )
    return rows


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
        "--only", choices=["polling", "download", "cold-start"], help="run one section"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    sizes = [64 * MIB, 256 * MIB] if args.quick else [256 * MIB, 1024 * MIB]
    every: dict[str, Callable[[], list[list[str]]]] = {
        "polling": lambda: polling(runs),
        "download": lambda: downloads(3, sizes),
        "cold-start": lambda: cold_start(15),
    }
    sections = [every[args.only]] if args.only else list(every.values())
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
