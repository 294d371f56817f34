"""Constants and scheduled events as code: the settings file applied to an environment.

After the transport (the new model's constants exist only then) and before the start:
read the environment's settings, change the values the file names, write the whole
collection back. A name the model does not have stops the deploy before the start.
"""

from __future__ import annotations

from ci_step.domain.app_settings import ChangeSet, Settings, plan
from ci_step.errors import ApiError
from ci_step.flow.environment import Environment


def apply(environment: Environment, settings: Settings, *, dry_run: bool = False) -> ChangeSet:
    """Change what the file asks for; the changes (each logged by name and new value as the
    file wrote it, never a constant's old value)."""
    api, app, mode = environment.api, environment.app_id, environment.mode
    current = api.get_settings(app, mode)
    changes = plan(current, settings.constants, settings.events)
    if changes.missing:
        raise ApiError(
            f"The settings file {settings.path} names what the model on {mode} does not have: "
            + ", ".join(changes.missing)
            + ".",
            error_code="CONSTANT_NOT_FOUND",
            fix="remove or rename the entry in the settings file, or deploy a package whose "
            "model has it",
        )
    log = environment.services.log
    for change in changes.changes:
        log.info(f"Setting {'would change' if dry_run else 'changed'}: {change.describe()}")
    if changes.changes and not dry_run:
        api.set_settings(app, mode, changes.body(current))
    if not changes.changes:
        log.info(f"The settings of {mode} already hold what {settings.path} asks for")
    return changes


def undo(environment: Environment, done: ChangeSet) -> None:
    """Put back the values ``done`` changed, for the names the environment's model has."""
    api, app, mode = environment.api, environment.app_id, environment.mode
    current = api.get_settings(app, mode)
    constants = {
        c.name: c.old
        for c in done.changes
        if c.kind == "constant" and current.constant(c.name) is not None
    }
    events = {
        c.name: c.old
        for c in done.changes
        if c.kind == "scheduled event" and current.event(c.name) is not None
    }
    if constants or events:
        api.set_settings(app, mode, current.body(constants, events))
        environment.services.log.info(
            f"Settings of {mode} put back as they were", count=len(constants) + len(events)
        )
