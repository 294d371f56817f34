"""Packages and their statuses, and the rules that pick a version or a package to reuse."""

from __future__ import annotations

from dataclasses import dataclass

from ci_step.domain.provenance import built_from, revisions_in
from ci_step.domain.versions import parse_version, same_revision
from ci_step.errors import ApiError, input_name

TERMINAL = frozenset({"Succeeded", "Failed"})
IN_PROGRESS = frozenset({"Queued", "Building", "Uploading"})
STATUSES = ("Queued", "Building", "Uploading", "Succeeded", "Failed")  # as the API spells them


def package_status(text: str) -> str:
    """A package Status given in any case, as the API spells it (ValueError: not one)."""
    found = next((status for status in STATUSES if status.casefold() == text.casefold()), None)
    if found is None:
        raise ValueError(
            f"is not a package status{_nearest(text)}: one of {', '.join(STATUSES)} (any case)"
        )
    return found


def _nearest(text: str) -> str:
    """' (did you mean 'Succeeded'?)' for the status closest to ``text``, if one is close."""
    import difflib  # only for a status that is not one

    by_key = {status.casefold(): status for status in STATUSES}
    near = difflib.get_close_matches(text.casefold(), list(by_key), n=1, cutoff=0.6)
    return f" (did you mean '{by_key[near[0]]}'?)" if near else ""


@dataclass(frozen=True)
class Package:
    package_id: str
    status: str
    version: str
    name: str
    description: str
    size: int | None
    creation_date: int | None
    url: str | None
    url_ttl: int | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def built_from(self) -> str:
        """The revision it was built from, as its Name and Description tell ('': unknown)."""
        return built_from(self.name, self.description, self.version)

    def built_from_other(self, revision: str) -> str | None:
        """A revision its texts name that is not ``revision``; None: none does."""
        found = revisions_in(self.name, self.description, self.version)
        return next((other for other in found if not same_revision(other, revision)), None)


def next_version(packages: list[Package], mode: str) -> str:
    """The next version above the highest major.minor.patch among ``packages``."""
    versions = [v for v in (parse_version(p.version) for p in packages) if v is not None]
    if not versions:
        return "1.0.0"
    major, minor, patch = max(versions)
    if mode == "auto-major":
        return f"{major + 1}.0.0"
    if mode == "auto-minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def choose_existing(
    packages: list[Package], version: str, on_existing: str, revision: str = ""
) -> Package | None:
    """The package to reuse or attach to, per ``on-existing``; None: build.

    The newest that Succeeded, else the newest in progress; one known to be built from
    ``revision`` goes before the others. Whether the one chosen may be reused is
    ``refuse_other_revision``'s to say."""
    same = sorted(
        (p for p in packages if p.version == version),
        key=lambda p: p.creation_date or 0,
        reverse=True,
    )
    if not same or on_existing == "rebuild":
        return None
    if on_existing == "fail":
        listed = ", ".join(f"{p.package_id} ({p.status})" for p in same)
        raise ApiError(
            f"A package with version {version} already exists: {listed}.",
            error_code="VERSION_EXISTS",
            fix=f"choose another {input_name('version')} (or {input_name('version', 'auto')}), "
            f"or set {input_name('on-existing')} to reuse or rebuild",
        )
    built = [p for p in same if same_revision(p.built_from, revision)]
    for candidates in (built, same):
        for wanted in ({"Succeeded"}, IN_PROGRESS):
            found = next((p for p in candidates if p.status in wanted), None)
            if found is not None:
                return found
    return None  # only Failed ones: build it again


def refuse_other_revision(package: Package, revision: str) -> ApiError | None:
    """The refusal to reuse ``package`` (or wait for it) when it was built from another
    revision than ``revision``: reusing it would ship other code under the outputs of this
    one. None: its texts name no other revision."""
    other = package.built_from_other(revision)
    if other is None:
        return None
    return ApiError(
        f"Package {package.package_id} ({package.status}) with version {package.version} was "
        f"built from revision {other}, not from revision {revision} that this run asks for; "
        "reusing it would ship the other revision's code.",
        error_code="REVISION_DIFFERS",
        fix=f"give a new {input_name('version')} (or {input_name('version', 'auto')}) to build "
        f"revision {revision}, or set {input_name('on-existing', 'rebuild')} to build it "
        "again with this version",
    )
