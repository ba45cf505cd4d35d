"""Reconcile a producer run's ledger with the lakehouse: every acknowledged message must be in
Bronze, and in exactly the Silver-layer table the ledger predicts, once.

Matching is by Kafka coordinates (stream, partition, offset), which every table keeps; a
duplicate's coordinates must be in Bronze only (Silver holds its first copy).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from headwater.settings import Settings
from producers.faults import MALFORMED

TABLES = {"silver": None, "late_events": "silver.late_events", "quarantine": "silver.quarantine"}


@dataclass
class StreamAccount:
    stream: str
    produced: int = 0
    in_bronze: int = 0
    found: dict[str, int] = field(default_factory=lambda: {"silver": 0, "late_events": 0, "quarantine": 0})
    missing: int = 0
    misplaced: int = 0
    wrong_reason: int = 0
    duplicated: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.misplaced or self.wrong_reason or self.duplicated)


def _ranges(entries: list[dict]) -> str:
    by_partition: dict[int, list[int]] = defaultdict(list)
    for e in entries:
        by_partition[e["partition"]].append(e["offset"])
    return " or ".join(f"(kafka_partition = {p} and kafka_offset between {min(o)} and {max(o)})"
                       for p, o in sorted(by_partition.items()))


def reconcile(settings: Settings, ledger: Path, query) -> list[StreamAccount]:
    """Account for every ledger entry; ``query(sql) -> rows`` runs SQL on Trino."""
    cat = settings.catalog.name
    entries_by_stream: dict[str, list[dict]] = defaultdict(list)
    with ledger.open() as f:
        for line in f:
            if line.strip():
                e = json.loads(line)
                entries_by_stream[e["stream"]].append(e)
    accounts = []
    for stream, entries in sorted(entries_by_stream.items()):
        acc = StreamAccount(stream, produced=len(entries))
        where = _ranges(entries)
        bronze = {(p, o) for p, o in query(f"select kafka_partition, kafka_offset from {cat}.bronze.{stream} "
                                           f"where {where}")}
        located: dict[str, dict[tuple[int, int], object]] = {
            "silver": {(p, o): eid for p, o, eid in query(
                f"select kafka_partition, kafka_offset, event_id from {cat}.silver.{stream} where {where}")},
            "late_events": {(p, o): None for p, o in query(
                f"select kafka_partition, kafka_offset from {cat}.silver.late_events "
                f"where stream = '{stream}' and ({where})")},
            "quarantine": {(p, o): reason for p, o, reason in query(
                f"select kafka_partition, kafka_offset, reason from {cat}.silver.quarantine "
                f"where stream = '{stream}' and ({where})")},
        }
        for e in entries:
            coords = (e["partition"], e["offset"])
            acc.in_bronze += coords in bronze
            if coords not in bronze:
                acc.missing += 1
                acc.examples.append(f"not in bronze: {e}")
            homes = [t for t, rows in located.items() if coords in rows]
            for t in homes:
                acc.found[t] += 1
            expected = e["expected"]
            if expected == "bronze":  # a resend: only its first copy belongs in Silver
                if homes:
                    acc.misplaced += 1
                    acc.examples.append(f"resend found in {homes}: {e}")
                continue
            if expected not in homes:
                if homes:
                    acc.misplaced += 1
                    acc.examples.append(f"in {homes}, expected {expected}: {e}")
                else:
                    acc.missing += 1
                    acc.examples.append(f"missing from {expected}: {e}")
            elif len(homes) > 1:
                acc.misplaced += 1
                acc.examples.append(f"in several tables {homes}: {e}")
            if expected == "quarantine" and expected in homes:
                reason = located["quarantine"][coords]
                if reason != MALFORMED[e["class"]]:
                    acc.wrong_reason += 1
                    acc.examples.append(f"quarantined as {reason}, expected {MALFORMED[e['class']]}: {e}")
        ids = sorted({e["event_id"] for e in entries if e["expected"] == "silver"})
        for i in range(0, len(ids), 500):
            chunk = ", ".join("'" + x.replace("'", "''") + "'" for x in ids[i:i + 500])
            for eid, n in query(f"select event_id, count(*) from {cat}.silver.{stream} where event_id in ({chunk}) "
                                "group by event_id having count(*) > 1"):
                acc.duplicated += 1
                acc.examples.append(f"event {eid} is {n} times in silver.{stream}")
        accounts.append(acc)
    return accounts


def render(accounts: list[StreamAccount]) -> str:
    head = f"{'stream':<20}{'produced':>9}{'bronze':>8}{'silver':>8}{'late':>6}{'quar.':>7}" \
           f"{'missing':>9}{'misplaced':>11}{'dup.':>6}"
    lines = [head]
    for a in accounts:
        lines.append(f"{a.stream:<20}{a.produced:>9}{a.in_bronze:>8}{a.found['silver']:>8}"
                     f"{a.found['late_events']:>6}{a.found['quarantine']:>7}{a.missing:>9}"
                     f"{a.misplaced + a.wrong_reason:>11}{a.duplicated:>6}")
    for a in accounts:
        for ex in a.examples[:5]:
            lines.append(f"  {a.stream}: {ex}")
    return "\n".join(lines)
