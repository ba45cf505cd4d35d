"""Incremental Gold builds: which UTC days changed in Silver, and how far back a run's window must reach.

The I/O (Iceberg snapshots, incremental reads, the state table) lives in ``spark_jobs/gold_daily.py``;
these are the pure parts: the days a frame of new rows falls on, and the widening of a window of
days so that it covers every changed day before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def changed_days(rows: DataFrame, time_column: str) -> list[date]:
    """Sorted distinct UTC days of ``time_column`` among ``rows`` (rows without a time are skipped).

    Run Spark in UTC (``spark.sql.session.timeZone``) so a day here is the day the Gold tables use.
    """
    day = F.to_date(time_column).alias("day")
    return sorted(r.day for r in rows.where(F.col(time_column).isNotNull()).select(day).distinct().collect())


@dataclass(frozen=True)
class Widening:
    """A window after catch-up: its new first day, the days added before the old one and why."""

    start: date
    end: date
    #: days now in the window that were not: from the new start up to the old start (contiguous)
    added: tuple[date, ...]
    #: changed days before the old start: the reason for ``added``
    late: tuple[date, ...]
    #: changed days after the end: left to the run whose window holds them
    later: tuple[date, ...]


def widen_window(start: date, end: date, days: Iterable[date]) -> Widening:
    """Move ``start`` back to the earliest of ``days`` before it; the end stays and the window stays contiguous.

    Days inside the window are rebuilt anyway; days after ``end`` belong to a later window.
    """
    changed = sorted(set(days))
    late = tuple(d for d in changed if d < start)
    later = tuple(d for d in changed if d > end)
    first = late[0] if late else start
    added = tuple(first + timedelta(days=i) for i in range((start - first).days))
    return Widening(first, end, added, late, later)
