"""A backfill through Airflow's own ``airflow backfill create`` gives the tables the scheduled runs give.

Backfills need whole past days. A stack started today has none in Silver, so the test writes
them: the frozen copy of today's Silver (test_gold_build's ``frozen_day``) moved back to the two
days before today, ids suffixed per day, every timestamp shifted so the newest event falls at
23:50 of its day. The scheduler runs the backfill's two runs, one after
the other, into a namespace of the test; what each of them runs is the job for its day, which
the test also runs itself, day by day, into another namespace, for eleven of the 21 tables
(cost: each table built is seconds of Spark): those must be equal.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest

from headwater import PROJECT_ROOT
from headwater.stack.airflow import Airflow
from headwater.stack.proc import wait_for
from headwater.stack.trino import Trino
from tests.integration.gold_helpers import drop_namespace_tables, fingerprint, gold_daily
from tests.integration.test_gold_build import FROZEN_STREAMS, SRC, frozen_day  # noqa: F401

# about 20 minutes on two cores (30 Spark tasks): outside `make test`'s budget, run by `make test-slow`
pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKFILL_SRC = "gold_backfill_src"
BACKFILL = "gold_backfill"
EXPECTED = "gold_backfill_cli"
#: per copied table: its event-time column (rows shifted before their day's start are left out)
EVENT_TIME = {"pos_sales": "sold_at", "online_orders": "placed_at", **FROZEN_STREAMS}
IDS = ("event_id", "sale_id", "order_id", "order_item_id", "session_id")
#: what the test builds with the job itself, day by day, to compare (the seven dimensions and four tables
#: of the lineage through fact_sales, an as-of table and the late-data fact among them): the rest is only run
COMPARED = ("dimension", "fact_sales", "fact_inventory_daily", "product_sales_daily", "customer_sales_daily",
            "customer_segments")
#: tables the job keeps for itself (per run): not Gold tables to compare
BOOKKEEPING = {"quality_results", "quality_scores", "gold_source_snapshots"}


def shifted_copy(trino: Trino, table: str, days: dict[date, int]) -> None:
    """``BACKFILL_SRC.<table>``: the frozen rows once per day, ids suffixed, timestamps moved by that day's shift."""
    types = dict(trino.query("select column_name, data_type from iceberg.information_schema.columns "
                             f"where table_schema = '{SRC}' and table_name = '{table}' order by ordinal_position"))
    selects = []
    for day, seconds in days.items():
        cols = []
        for c in types:  # in column order
            if c in IDS:
                cols.append(f"{c} || '-{day:%m%d}' as {c}")
            elif types[c].startswith("timestamp"):
                cols.append(f"{c} + interval '{seconds}' second as {c}")
            else:
                cols.append(c)
        if table == "online_order_items":  # an order's lines go with their order
            where = (f"order_id || '-{day:%m%d}' in (select order_id from iceberg.{BACKFILL_SRC}.online_orders)")
        else:
            where = f"{EVENT_TIME[table]} + interval '{seconds}' second >= timestamp '{day} 00:00:00 UTC'"
        selects.append(f"select {', '.join(cols)} from iceberg.{SRC}.{table} where {where}")
    trino.query(f"create table iceberg.{BACKFILL_SRC}.{table} as {' union all '.join(selects)}")


@pytest.fixture(scope="module")
def two_past_days(trino: Trino, frozen_day: str) -> list[date]:  # noqa: F811
    """Write the two days before ``frozen_day`` into ``BACKFILL_SRC``; return them, oldest first."""
    newest = max(trino.query(f"select max({col}) from iceberg.{SRC}.{table}")[0][0]
                 for table, col in EVENT_TIME.items())
    days = [date.fromisoformat(frozen_day) - timedelta(days=k) for k in (2, 1)]
    shifts = {d: int((datetime(d.year, d.month, d.day, 23, 50, tzinfo=UTC) - newest).total_seconds()) for d in days}
    drop_namespace_tables(trino, BACKFILL_SRC)
    for table in ("pos_sales", "online_orders", "online_order_items", *FROZEN_STREAMS):
        shifted_copy(trino, table, shifts)
    return days


def gold_tables(trino: Trino, namespace: str) -> set[str]:
    return {t for (t,) in trino.query(f"show tables from iceberg.{namespace}")} - BOOKKEEPING


def test_backfill_over_two_days_equals_the_job_run_day_by_day(stack, trino: Trino, two_past_days: list[date]):
    first, last = two_past_days
    ns = ["--source-namespace", BACKFILL_SRC, "--target-namespace", EXPECTED]
    drop_namespace_tables(trino, EXPECTED)
    for day in two_past_days:  # what each scheduled run does: the job for its own day (compared tables only)
        built = gold_daily(*ns, "--start", str(day), "--run-id", f"cli-{day}", "--tables", ",".join(COMPARED))
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]

    drop_namespace_tables(trino, BACKFILL)
    airflow = Airflow(stack)
    airflow.install()
    token = airflow.token()
    conf = {"source_namespace": BACKFILL_SRC, "target_namespace": BACKFILL}
    proc = subprocess.run([str(airflow.venv / "bin" / "airflow"), "backfill", "create", "--dag-id", "gold_daily",
                           "--from-date", str(first), "--to-date", str(last), "--dag-run-conf", json.dumps(conf),
                           "--max-active-runs", "1", "--reprocess-behavior", "completed"],
                          env=airflow.env(), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    backfills = airflow.api("/backfills?dag_id=gold_daily&order_by=-id&limit=1", token=token)["backfills"]
    backfill = backfills[0]
    assert backfill["dag_run_conf"] == conf, backfill

    # the scheduler runs a backfill's runs only while the DAG is unpaused; put it back as it was
    paused = airflow.api("/dags/gold_daily", token=token)["is_paused"]
    airflow.api("/dags/gold_daily", "PATCH", {"is_paused": False}, token=token)
    try:
        def runs() -> list[dict]:
            found = airflow.api("/dags/gold_daily/dagRuns?run_type=backfill&order_by=-id&limit=20",
                                token=token)["dag_runs"]
            return [r for r in found if r.get("conf") == conf]

        def finished() -> list[dict] | None:
            # done: the backfill has a completion time, or a run failed (no need to wait for the rest)
            mine = runs()
            done = airflow.api(f"/backfills/{backfill['id']}", token=token)["completed_at"]
            return mine if done or any(r["state"] == "failed" for r in mine) else None

        mine = wait_for(finished, 2400, "the backfill's runs to finish", interval=10)
    finally:
        airflow.api("/dags/gold_daily", "PATCH", {"is_paused": paused}, token=airflow.token())
    assert sorted(r["logical_date"][:10] for r in mine) == [str(first), str(last)], mine
    assert {r["state"] for r in mine} == {"success"}, mine

    # every table of the DAG was built; those of the lineage through fact_sales equal the job's, day by day
    assert len(gold_tables(trino, BACKFILL)) == 21
    tables = gold_tables(trino, EXPECTED)
    assert len(tables) == 11
    for table in sorted(tables):
        assert fingerprint(trino, f"{BACKFILL}.{table}") == fingerprint(trino, f"{EXPECTED}.{table}"), table
    days = trino.query(f"select distinct sale_date from iceberg.{BACKFILL}.fact_sales order by 1")
    assert [str(d) for (d,) in days] == [str(first), str(last)]
