"""`mendix-build simulate`: serve the simulator in the foreground until a signal."""

from __future__ import annotations

import signal
import threading

import click

from ci_step.simulator.server import Fault, Simulator
from ci_step.simulator.state import BuildService, Durations


def build_service(
    *,
    username: str,
    api_key: str,
    apps: tuple[str, ...],
    durations: tuple[float, float, float],
    time_scale: float = 1.0,
    url_ttl: int = 900,
    package_size: int = 512 * 1024,
    fail_revisions: tuple[str, ...] = (),
    stuck: bool = False,
    clock_offset: float = 0.0,
) -> BuildService:
    service = BuildService(
        username,
        api_key,
        durations=Durations(*durations),
        time_scale=time_scale,
        url_ttl=url_ttl,
        clock_offset=clock_offset,
    )
    for spec in apps:
        name, _, repo = spec.partition(":")
        service.add_app(
            name,
            repo=repo or "git",
            package_size=package_size,
            failing_revisions=set(fail_revisions),
            stuck_builds=stuck,
        )
    return service


def serve(
    service: BuildService, *, host: str, port: int, storage_port: int, faults: list[Fault]
) -> None:
    simulator = Simulator(service, host=host, port=port, storage_port=storage_port)
    for fault in faults:
        simulator.add_fault(fault)
    simulator.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(
        f"Mendix Build API simulator at {simulator.base_url} (storage host {simulator.storage_url})"
    )
    click.echo(f"Accepting Mendix-Username {service.username}; apps:")
    for app in service.apps.values():
        heads = ", ".join(f"{name} @ {rev}" for name, rev in app.branches.items())
        click.echo(f"  {app.app_id} ({app.repo}, project {app.project_id}): {heads}")
        for package in app.packages:
            click.echo(
                f"    package {package.version} {package.fixed_status}: {package.package_id}"
            )
        modes = ", ".join(f"{env.mode} ({env.status.lower()})" for env in app.environments.values())
        click.echo(f"    environments: {modes}")
    for fault in faults:
        click.echo(f"Fault: {fault}")
    click.echo("Stop with Ctrl-C.")
    stop.wait()
    simulator.stop()
