"""Accounting: every message a producer run got acknowledged is in Bronze, and once in exactly the
table its ledger entry predicts: Silver (on time or flagged late), silver.late_events, or
silver.quarantine with the right reason; resends only in Bronze."""

import subprocess
import sys

import pytest

from headwater import PROJECT_ROOT
from headwater.contracts import stream_contracts
from headwater.reconcile import render
from headwater.stack.flink import Flink
from producers.faults import FaultPlan
from producers.run import ProduceOptions, produce
from tests.integration.conftest import reconciled

pytestmark = pytest.mark.integration


def test_every_ledger_entry_lands_exactly_where_the_ledger_says(stack, trino):
    flink = Flink(stack)
    job = flink.running_job("headwater-ingest")
    restarts_before = flink.restarts(job["id"])
    faults = FaultPlan(late=0.08, late_beyond=0.4, disorder=0.1, duplicates=0.05, malformed=0.1)
    streams = tuple(c.name for c in stream_contracts())
    result = produce(stack, ProduceOptions(streams=streams, count=3000, rate=0, seed=505, faults=faults),
                     progress=False)
    assert result.acked == 3000

    accounts = reconciled(stack, trino, result.ledger, timeout=240)
    assert all(a.ok for a in accounts), render(accounts)
    assert {a.stream for a in accounts} == set(streams)
    totals = {t: sum(a.found[t] for a in accounts) for t in ("silver", "late_events", "quarantine")}
    assert all(totals.values()), totals  # every destination was exercised
    assert sum(a.in_bronze for a in accounts) == 3000
    # bad data never restarts the job: it is routed, not thrown
    assert flink.running_job("headwater-ingest")["id"] == job["id"]
    assert flink.restarts(job["id"]) == restarts_before

    # the same proof, as users run it
    proc = subprocess.run([sys.executable, "-m", "headwater", "reconcile", str(result.ledger)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
