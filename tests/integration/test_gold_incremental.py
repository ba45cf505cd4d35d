"""gold_daily is incremental against the running stack: late data reprocesses its day, and catch-up
runs give the tables a full rebuild gives.

Like test_gold_build.py, the job reads a frozen copy of Silver (``gold_inc_src``: today's sales
and orders, the inventory updates of the last three days) and writes test-only namespaces:
``gold_inc`` built incrementally, ``gold_inc_full`` rebuilt with ``--full`` for comparison. Late
and extra rows are appended to the copy through Trino, as the streaming job appends to Silver.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from headwater.settings import load_settings
from headwater.stack.trino import Trino
from tests.integration.gold_helpers import (
    columns,
    copy_events,
    copy_sales,
    drop_namespace_tables,
    fingerprint,
    gold_daily,
)

pytestmark = pytest.mark.integration

SRC = "gold_inc_src"
GOLD = "gold_inc"
FULL = "gold_inc_full"
DIMS = ("dim_store", "dim_product", "dim_customer")
SALES = ("fact_sales", "product_sales_daily", "features_interactions")
#: customer_profiles and the tables it reads besides the dimensions
CUSTOMERS = ("customer_sales_daily", "fact_feedback", "fact_web_sessions", "customer_profiles")
#: inventory updates arrive up to 48 h late: this one 40 h after it was counted
LATENESS = timedelta(hours=40)


@pytest.fixture(scope="module")
def frozen(stack, trino: Trino) -> tuple[date, datetime]:
    """Freeze Silver up to a cutoff into ``gold_inc_src`` (empty target namespaces); return (today, cutoff)."""
    cutoff = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    day = cutoff.date()
    until = f"timestamp '{cutoff:%Y-%m-%d %H:%M:%S} UTC'"
    for ns in (SRC, GOLD, FULL):
        drop_namespace_tables(trino, ns)
    copy_sales(trino, SRC, f"between timestamp '{day} 00:00:00 UTC' and {until}")
    copy_events(trino, "clickstream", SRC, f"occurred_at between timestamp '{day} 00:00:00 UTC' and {until}")
    copy_events(trino, "customer_feedback", SRC, f"reviewed_at between timestamp '{day} 00:00:00 UTC' and {until}")
    # the late update's day and the one after it must be in the copy for a full rebuild to cover them
    copy_events(trino, "inventory_updates", SRC,
                f"counted_at between timestamp '{day - timedelta(days=2)} 00:00:00 UTC' and {until}")
    return day, cutoff


def build(*args: str, env: dict[str, str] | None = None) -> str:
    """Run gold_daily on the copy (the target namespace and window in ``args``); its output."""
    proc = gold_daily("--source-namespace", SRC, *args, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def append_copies(trino: Trino, table: str, replace: dict[str, str], limit: int) -> None:
    """Append ``limit`` rows of the copy's ``table`` with some columns replaced (new event ids, times...)."""
    cols = columns(trino, f"{SRC}.{table}")
    select = ", ".join(f'{replace[c]} as "{c}"' if c in replace else f'"{c}"' for c in cols)
    trino.query(f"insert into iceberg.{SRC}.{table} select {select} from iceberg.{SRC}.{table} "
                f"order by event_id limit {limit}")


def new_order_version(trino: Trino, status: str, new_status: str) -> str | None:
    """A newer version of the copy's first order whose latest status is ``status``, as CDC lands one: its id
    (None: no such order)."""
    cols = columns(trino, f"{SRC}.online_orders")
    changed = {"status": f"'{new_status}'", "updated_at": "updated_at + interval '1' second",
               "ingested_at": "current_timestamp"}
    select = ", ".join(f'{changed[c]} as "{c}"' if c in changed else f'"{c}"' for c in cols)
    latest = (f"select * from (select *, row_number() over (partition by order_id order by updated_at desc) as n "
              f"from iceberg.{SRC}.online_orders) where n = 1 and status = '{status}' order by order_id limit 1")
    found = trino.query(f"select order_id from ({latest})")
    if not found:
        return None
    trino.query(f"insert into iceberg.{SRC}.online_orders select {select} from ({latest})")
    return found[0][0]


def inventory_day(trino: Trino, namespace: str, day: date) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in columns(trino, f"{namespace}.fact_inventory_daily"))
    return sorted(trino.query(f"select {cols} from iceberg.{namespace}.fact_inventory_daily "
                              f"where inventory_date = date '{day}'"))


def test_inventory_updates_40_hours_late_change_their_day_on_the_next_run(trino: Trino, frozen):
    day, cutoff = frozen
    window = ["--target-namespace", GOLD, "--start", day.isoformat()]
    build(*window, "--run-id", "inc-1", "--tables", ",".join((*DIMS, *SALES, "fact_inventory_daily")))
    late_at = cutoff - LATENESS
    late_day = late_at.date()
    assert late_day < day
    before = inventory_day(trino, GOLD, late_day)
    # a waste and a count of three known store/product pairs, counted 40 hours ago and arriving now
    at = f"timestamp '{late_at:%Y-%m-%d %H:%M:%S} UTC'"
    for kind, quantity in (("waste", "7"), ("count", "11")):
        append_copies(trino, "inventory_updates", {
            "event_id": "cast(uuid() as varchar)", "update_type": f"'{kind}'", "quantity": quantity,
            "counted_at": at, "is_late": "true", "ingested_at": "current_timestamp"}, limit=3)

    out = build(*window, "--run-id", "inc-2", "--tables", "fact_inventory_daily")
    assert f"rows arrived late for {late_day}" in out, out[-4000:]
    assert f"days {late_day}..{day}" in out, out[-4000:]
    after = inventory_day(trino, GOLD, late_day)
    assert after != before

    # what a full rebuild from the same copy gives for that day
    build("--target-namespace", FULL, "--full", "--start", (day - timedelta(days=2)).isoformat(), "--end",
          day.isoformat(), "--run-id", "inc-full-1", "--tables", ",".join((*DIMS, "fact_inventory_daily")))
    assert after == inventory_day(trino, FULL, late_day)
    # the window's own day was rebuilt too, and equals the full rebuild's
    assert inventory_day(trino, GOLD, day) == inventory_day(trino, FULL, day)


def test_incremental_runs_give_the_tables_a_full_rebuild_gives(trino: Trino, frozen):
    day, _ = frozen
    window = ["--target-namespace", GOLD, "--start", day.isoformat()]
    tables = ",".join((*DIMS, *SALES, *CUSTOMERS))
    build(*window, "--run-id", "inc-sales-0", "--tables", tables)  # a first build, or the tables kept
    # about 1% more till lines: copies of existing ones under new event and receipt ids, appended later
    lines = int(trino.query(f"select count(*) from iceberg.{SRC}.pos_sales")[0][0])
    append_copies(trino, "pos_sales", {"event_id": "cast(uuid() as varchar)", "sale_id": "cast(uuid() as varchar)",
                                       "ingested_at": "current_timestamp"}, limit=max(1, lines // 100))
    # and the mirror's changes: an order in flight is delivered (its lines join the facts), a delivered one
    # is cancelled (its lines leave them)
    def lines_of(order_id: str | None) -> int:
        return int(trino.query(f"select count(*) from iceberg.{GOLD}.fact_sales where sale_id = '{order_id}'")[0][0])

    cancelled = new_order_version(trino, "delivered", "cancelled")
    assert cancelled is not None and lines_of(cancelled) > 0, "no delivered order with lines in the copy"
    delivered = new_order_version(trino, "out_for_delivery", "delivered")  # None: none in flight at the cutoff

    out = build(*window, "--run-id", "inc-sales-1", "--tables", tables)
    # the catch-up read only what was appended since the last run: one append to pos_sales
    assert f"catch-up {SRC}.pos_sales" in out and "incremental read of 1 appends" in out, out[-4000:]
    # and the facts merged those rows in instead of rebuilding the day
    assert f"{GOLD}.fact_sales: merging the new rows of online_order_items, online_orders, pos_sales" in out, \
        out[-4000:]
    # features_interactions brought the day's snapshot up to date for the pairs those changes touch
    assert (f"{GOLD}.features_interactions: merging the new rows of clickstream, online_order_items, online_orders, "
            "pos_sales") in out, out[-4000:]
    # and customer_profiles the profiles of the customers whose sales changed
    assert (f"{GOLD}.customer_profiles: merging the new rows of clickstream, customer_feedback, online_order_items, "
            "online_orders, pos_sales") in out, out[-4000:]
    assert lines_of(cancelled) == 0
    if delivered is not None:
        items = trino.query(f"select count(*) from iceberg.{SRC}.online_order_items where order_id = '{delivered}'")
        assert lines_of(delivered) == int(items[0][0])
    build("--target-namespace", FULL, "--full", "--start", day.isoformat(), "--run-id", "inc-full-2",
          "--tables", tables)
    for table in (*SALES, *CUSTOMERS):
        assert fingerprint(trino, f"{GOLD}.{table}") == fingerprint(trino, f"{FULL}.{table}"), table
    store_lines = trino.query(f"select count(*) from iceberg.{GOLD}.fact_sales where channel = 'store'")[0][0]
    assert int(store_lines) == lines + max(1, lines // 100)

    # the state records, per table and source, the snapshot the last successful run read
    recorded = dict(trino.query(
        f"select source_table, max_by(snapshot_id, recorded_at) from iceberg.{GOLD}.gold_source_snapshots "
        f"where gold_table = 'fact_sales' group by 1"))
    current = trino.query(f'select snapshot_id from iceberg.{SRC}."pos_sales$snapshots" '
                          "order by committed_at desc limit 1")[0][0]
    assert recorded[f"{SRC}.pos_sales"] == current
    # the dimensions' landed files did not change: they were kept, not rebuilt
    for dim in DIMS:
        assert f"{GOLD}.{dim}: kept as built" in out, (dim, out[-4000:])


def test_a_table_written_without_recording_rebuilds_its_days_instead_of_merging_again(trino: Trino, frozen):
    """A run that writes fact_sales but records nothing (here --no-catch-up; a run that fails at a later table's
    gate, or is killed, leaves the same) already holds the new lines: merged again they would be duplicates."""
    day, _ = frozen
    window = ["--target-namespace", GOLD, "--start", day.isoformat()]
    # the tables the next test reads too: each ends recorded as built from the copy's latest snapshots
    tables = ",".join((*DIMS, *SALES))
    build(*window, "--run-id", "inc-unrecorded-0", "--tables", tables)  # recorded (or kept as recorded)
    new_lines = {"event_id": "cast(uuid() as varchar)", "sale_id": "cast(uuid() as varchar)",
                 "ingested_at": "current_timestamp"}
    append_copies(trino, "pos_sales", new_lines, limit=50)
    build(*window, "--no-catch-up", "--run-id", "inc-unrecorded-1", "--tables", "fact_sales")

    out = build(*window, "--run-id", "inc-unrecorded-2", "--tables", tables)
    assert "by day, not merging the new rows: it was written after its last recorded build" in out, \
        out[-4000:]
    build("--target-namespace", FULL, "--full", "--start", day.isoformat(), "--run-id", "inc-unrecorded-full",
          "--tables", tables)
    for table in SALES:
        assert fingerprint(trino, f"{GOLD}.{table}") == fingerprint(trino, f"{FULL}.{table}"), table
    # that rebuild recorded the table as it left it: the next new lines are merged again, new till lines
    # alone by an append (no MERGE reading the day), to the rows a rebuild gives
    append_copies(trino, "pos_sales", new_lines, limit=50)
    out = build(*window, "--run-id", "inc-unrecorded-3", "--tables", tables)
    assert f"{GOLD}.fact_sales: merging the new rows of" in out, out[-4000:]
    assert "new rows only: appended" in out.split(f"{GOLD}.fact_sales: merging", 1)[1].split(f"{GOLD}.", 1)[0], \
        out[-4000:]
    build("--target-namespace", FULL, "--full", "--start", day.isoformat(), "--run-id", "inc-unrecorded-full-2",
          "--tables", tables)
    for table in SALES:
        assert fingerprint(trino, f"{GOLD}.{table}") == fingerprint(trino, f"{FULL}.{table}"), table


def test_a_changed_master_data_file_rebuilds_its_dimension_and_readers(trino: Trino, frozen, tmp_path):
    day, _ = frozen
    window = ["--target-namespace", GOLD, "--start", day.isoformat()]
    tables = ",".join((*DIMS, *SALES))
    if not trino.query(f"show tables from iceberg.{GOLD} like 'fact_sales'"):  # run alone: a first build
        build(*window, "--run-id", "inc-dims-0", "--tables", tables)
    # the same landed files elsewhere (names, sizes and times kept: the same inputs), then one re-landed
    landing = tmp_path / "landing"
    shutil.copytree(load_settings().landing_dir, landing)
    products = sorted((landing / "products").glob("products_*"))[-1]
    os.utime(products, (products.stat().st_atime, products.stat().st_mtime + 60))
    before = {t: fingerprint(trino, f"{GOLD}.{t}") for t in (*DIMS, *SALES)}

    out = build(*window, "--run-id", "inc-dims-1", "--tables", tables, env={"HEADWATER_LANDING": str(landing)})
    for kept in ("dim_store", "dim_customer"):
        assert f"{GOLD}.{kept}: kept as built" in out, (kept, out[-4000:])
    for rebuilt in ("dim_product", *SALES):
        assert f"{GOLD}.{rebuilt}: building (new input in landing/products)" in out, (rebuilt, out[-4000:])
    # the same rows again: rebuilt, not changed
    assert {t: fingerprint(trino, f"{GOLD}.{t}") for t in (*DIMS, *SALES)} == before


def test_the_next_day_folds_its_interactions_onto_the_day_before(trino: Trino, frozen):
    day, _ = frozen
    following = day + timedelta(days=1)
    tables = ",".join((*DIMS, *SALES))
    build("--target-namespace", GOLD, "--start", day.isoformat(), "--run-id", "inc-fold-0", "--tables", tables)
    # the next day's till lines and clicks: copies of some of today's, a day later
    for table, at in (("pos_sales", "sold_at"), ("clickstream", "occurred_at")):
        replace = {"event_id": "cast(uuid() as varchar)", at: f"{at} + interval '1' day",
                   "ingested_at": "current_timestamp"}
        if table == "pos_sales":
            replace["sale_id"] = "cast(uuid() as varchar)"
        append_copies(trino, table, replace, limit=500)

    out = build("--target-namespace", GOLD, "--start", following.isoformat(), "--run-id", "inc-fold-1",
                "--tables", tables)
    # the snapshot of the day before was written by the last build and no input of it changed since
    assert f"as-of snapshots: those of {day}..{day} are current" in out, out[-4000:]
    build("--target-namespace", FULL, "--full", "--start", following.isoformat(), "--run-id", "inc-fold-full",
          "--tables", tables)
    for table in SALES:
        assert fingerprint(trino, f"{GOLD}.{table}") == fingerprint(trino, f"{FULL}.{table}"), table
    counts = {str(d): int(n) for d, n in trino.query(
        f"select as_of_date, count(*) from iceberg.{GOLD}.features_interactions group by 1")}
    assert counts[str(following)] >= counts[str(day)] > 0
