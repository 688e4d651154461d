"""Property tests save a failing example as a scenario file that ``kafkasim run`` replays.

``with replayable(d): ...`` runs the checks of scenario dict ``d``; when one fails (an assertion,
the audit's AccountingError, or a runaway run), ``d`` is written as JSON under
``results/property_failures/`` (named by its hash) and the failure is raised again with the
command that replays it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.audit import AccountingError
from sim.timers import EventLimitExceeded

FAILURES = Path(__file__).resolve().parents[1] / "results" / "property_failures"


def save_failure(d: dict) -> Path:
    """Write scenario ``d`` under results/property_failures/; return the file."""
    FAILURES.mkdir(parents=True, exist_ok=True)
    text = json.dumps(d, indent=2, sort_keys=True)
    path = FAILURES / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text + "\n")
    return path


@contextmanager
def replayable(d: dict) -> Iterator[None]:
    """Save ``d`` when the checks in the block fail, and say how to replay it."""
    try:
        yield
    except (AssertionError, AccountingError, EventLimitExceeded) as failure:
        path = save_failure(d)
        raise AssertionError(f"{failure}\nreplay: kafkasim run {path}") from failure
