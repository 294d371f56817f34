"""The shapes of the ids the step takes from an input or an answer before it uses or
prints them: nothing that can break a URL path, a message or an output format."""

from __future__ import annotations

import re

# A package: the package-id input and the Build API's PackageId.
PACKAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# An id the Deploy or Backups API gives (EnvironmentId, ProjectId, the PackageId an
# environment holds, a snapshot's or a restore's id): a colon may appear too.
API_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# A Mendix Pipelines pipeline or run: the pipeline-id input and the Pipelines API's run id.
PIPELINE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
