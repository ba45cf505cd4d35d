"""Whether an incremental Gold run may keep a table as it is instead of rebuilding it.

Pure Python (no Spark): ``spark_jobs/gold_daily.py`` gathers the inputs (the snapshot each Silver
source is at, a fingerprint of each master-data dataset's landed files) and the state earlier runs
recorded, and asks :func:`rebuild_reason`.

A table is kept when rebuilding it would write what it already holds:

- every input it depends on, directly or through the Gold tables it reads, is at the snapshot (or
  fingerprint) recorded when the table was last built, so the same rows would be read; and
- for a table replaced by window (not a dimension, rebuilt whole whatever the window), that last
  build's window ends on this run's last day and starts no later than this run's first
  day, so the days this run would replace were all written by it. Days are rebuilt from their
  inputs alone, so any earlier day the window reaches was written from these inputs too: catch-up
  rebuilds every day whose inputs changed since, in the run that records the change.

The last window is the one of the latest recording run: runs that record nothing (a backfill behind
the latest window, ``--no-catch-up``) can only have rewritten days from the same inputs when the
inputs did not change, and a change makes the table rebuild anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Window:
    """The UTC days a run builds, first and last included."""

    start: date
    end: date


def rebuild_reason(current: Mapping[str, int | None], recorded: Mapping[str, int | None],
                   last: Window | None, window: Window, windowed: bool = True) -> str | None:
    """Why the table must be rebuilt for ``window``, or None when it can be kept as it is.

    ``current``: input -> the snapshot id or fingerprint this run reads it at (None: no snapshot yet);
    ``recorded``: input -> what the table's last recording build read; ``last``: that build's window.
    ``windowed=False``: a table rebuilt whole from all its inputs (a dimension), whatever the window.
    """
    if last is None:
        return "no earlier build recorded"
    if windowed and last.end != window.end:
        return f"last built for the window ending {last.end}, not {window.end}"
    if windowed and last.start > window.start:
        return f"last built from {last.start}, after this window's first day {window.start}"
    if not current:
        return "no inputs known"
    unrecorded = sorted(set(current) - set(recorded))
    if unrecorded:
        return f"nothing recorded for {', '.join(unrecorded)}"
    changed = sorted(name for name, at in current.items() if at is None or at != recorded[name])
    if changed:
        return f"new input in {', '.join(changed)}"
    return None
