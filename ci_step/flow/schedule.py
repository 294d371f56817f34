"""When to ask for the build status next.

Early polls are fast so short builds are noticed quickly; the wait then grows
with the time the build has run, so long builds cost few requests; it never
exceeds ``poll-interval``.

- under 60 s of build time: wait max(1 s, 10 % of elapsed) -> lag below 10 %;
- from 60 s on: wait 20 % of elapsed (median lag about 10 %);
- always capped by ``poll-interval`` (30 s by default).

A 20-minute build costs about 69 status requests with the default cap.
"""

from __future__ import annotations

FAST_PHASE = 60.0
EARLY_FRACTION = 0.1
LATE_FRACTION = 0.2
FLOOR = 1.0


def next_wait(elapsed: float, cap: float) -> float:
    """Seconds to wait before the next status check, ``elapsed`` seconds into the build."""
    wait = max(FLOOR, EARLY_FRACTION * elapsed) if elapsed < FAST_PHASE else LATE_FRACTION * elapsed
    return min(cap, wait)
