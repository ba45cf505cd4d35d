"""gold_daily against the running stack: build, idempotence, an oracle from Silver, the quality gate, BI queries.

Silver changes every second (the producers run), so the build tests read a frozen copy: the
day's Silver rows up to a cutoff, copied through Trino into a test-only namespace
(``gold_test_src``), and write a test-only Gold namespace (``gold_test``). The shared Silver
and Gold tables are never written; the BI queries run on ``gold_test`` in place of ``gold``.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater import PROJECT_ROOT
from headwater.frozen import event_times
from headwater.stack import install
from headwater.stack.trino import Trino
from tests.integration.gold_helpers import (
    columns,
    copy_events,
    copy_sales,
    drop_namespace_tables,
    fingerprint,
    gold_daily,
    snapshots,
)

pytestmark = pytest.mark.integration

SRC = "gold_test_src"
GOLD = "gold_test"
BUILT = ("dim_store", "dim_product", "dim_customer", "fact_sales", "product_sales_daily")
BI_DIR = PROJECT_ROOT / "sql" / "gold" / "bi"


#: Silver streams copied beside the sales, by their event-time column
FROZEN_STREAMS = event_times()


@pytest.fixture(scope="module")
def frozen_day(stack, trino: Trino) -> str:
    """Copy today's Silver sales and online orders up to a cutoff into ``gold_test_src``; return the day."""
    cutoff = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    day = cutoff.date().isoformat()
    in_day = f"between timestamp '{day} 00:00:00 UTC' and timestamp '{cutoff:%Y-%m-%d %H:%M:%S} UTC'"
    for ns in (SRC, GOLD):
        drop_namespace_tables(trino, ns)
    copy_sales(trino, SRC, in_day)
    # the other streams Gold reads: every table of the DAG is built from the copy
    for table, event_time in FROZEN_STREAMS.items():
        copy_events(trino, table, SRC, f"{event_time} {in_day}")
    return day


#: product_sales_daily computed independently, in Trino SQL, from the frozen Silver copy
ORACLE = """select sale_date, store_id, product_id, cast(sum(revenue) as decimal(12, 2)), sum(quantity)
from (
  select cast(sold_at at time zone 'UTC' as date) as sale_date, store_id, product_id, quantity,
         cast(quantity * unit_price - discount as decimal(12, 2)) as revenue
  from iceberg.{src}.pos_sales
  union all
  select cast(o.placed_at at time zone 'UTC' as date), o.store_id, i.product_id, i.quantity,
         cast(i.quantity * i.unit_price as decimal(12, 2))
  from iceberg.{src}.online_orders o join iceberg.{src}.online_order_items i on i.order_id = o.order_id
  where o.status = 'delivered'
) where sale_date = date '{day}'
group by 1, 2, 3"""


def test_build_is_readable_idempotent_and_matches_silver(trino: Trino, frozen_day: str):
    ns = ["--source-namespace", SRC, "--target-namespace", GOLD, "--start", frozen_day, "--run-id", "test-build-1"]
    first = gold_daily(*ns, "--tables", ",".join(BUILT))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    built = {t: fingerprint(trino, f"{GOLD}.{t}") for t in BUILT}
    assert all(fp[0] > 0 for fp in built.values()), built
    # every check of every table passed and was recorded with a score of 1
    scores = dict(trino.query(f"select table_name, score from iceberg.{GOLD}.quality_scores "
                              "where run_id = 'test-build-1'"))
    assert scores == dict.fromkeys(BUILT, 1.0)

    # a rebuild of the same window over the same input leaves identical contents (and does rewrite them)
    before = snapshots(trino, f"{GOLD}.fact_sales")
    again = gold_daily(*ns[:-1], "test-build-2", "--tables", "fact_sales,product_sales_daily", "--no-catch-up")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert snapshots(trino, f"{GOLD}.fact_sales") > before
    for t in ("fact_sales", "product_sales_daily"):
        assert fingerprint(trino, f"{GOLD}.{t}") == built[t], t

    # an incremental rerun with nothing new keeps every table as it is, without writing it; the same
    # whether the job runs on the Spark Connect server (the runs above) or in a driver of its own
    assert "gold_daily: on the Spark Connect server sc://" in first.stdout, first.stdout[-3000:]
    before = {t: snapshots(trino, f"{GOLD}.{t}") for t in BUILT}
    kept = gold_daily(*ns[:-1], "test-build-3", "--tables", ",".join(BUILT), env={"HEADWATER_SPARK__CONNECT": "false"})
    out = kept.stdout + kept.stderr
    assert kept.returncode == 0, out[-3000:]
    assert "gold_daily: in a driver of its own, master local[2]" in out, out[-3000:]
    for t in BUILT:
        assert f"{GOLD}.{t}: kept as built" in out, (t, out[-3000:])
    assert {t: snapshots(trino, f"{GOLD}.{t}") for t in BUILT} == before
    assert {t: fingerprint(trino, f"{GOLD}.{t}") for t in BUILT} == built

    gold = sorted(trino.query(f"select sale_date, store_id, product_id, revenue, units "
                              f"from iceberg.{GOLD}.product_sales_daily"))
    expected = sorted(trino.query(ORACLE.format(src=SRC, day=frozen_day)))
    assert gold == expected and len(gold) > 0


def test_duplicate_grain_fails_the_run_at_the_named_check(trino: Trino, frozen_day: str):
    if int(trino.query(f"select count(*) from iceberg.information_schema.tables where table_schema = '{GOLD}' "
                       "and table_name = 'fact_sales'")[0][0]) == 0:
        built = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", frozen_day,
                           "--tables", ",".join(BUILT))
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    published = fingerprint(trino, f"{GOLD}.fact_sales")
    downstream = snapshots(trino, f"{GOLD}.product_sales_daily")
    # a resent event that slipped past deduplication: the same event ids twice in the input
    trino.query(f"insert into iceberg.{SRC}.pos_sales select * from iceberg.{SRC}.pos_sales limit 3")

    broken = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", frozen_day,
                        "--run-id", "test-broken", "--tables", "fact_sales,product_sales_daily")
    out = broken.stdout + broken.stderr
    assert broken.returncode != 0
    assert f"quality gate failed for {GOLD}.fact_sales at check 'grain_unique'" in out, out[-3000:]
    # audited before publishing: the table keeps its contents, and the downstream table was not built
    assert fingerprint(trino, f"{GOLD}.fact_sales") == published
    assert snapshots(trino, f"{GOLD}.product_sales_daily") == downstream
    failed = trino.query(f"select table_name, check_name, observed from iceberg.{GOLD}.quality_results "
                         "where run_id = 'test-broken' and not passed")
    assert failed == [("fact_sales", "grain_unique", 3.0)]
    assert trino.query(f"select score < 1 from iceberg.{GOLD}.quality_scores where run_id = 'test-broken'") == [
        (True,)]


def test_dags_import_cleanly(stack, tmp_path):
    """The Airflow environment parses gold_daily and maintenance without import errors."""
    python = install.venv_python(install.venv_dir(stack, "airflow"))
    code = ("from airflow.models import DagBag; b = DagBag(dag_folder='airflow/dags'); "
            "assert not b.import_errors, b.import_errors; "
            "assert {'gold_daily', 'maintenance'} <= set(b.dags), sorted(b.dags); "
            "print(len(b.dags['gold_daily'].tasks))")
    proc = subprocess.run([str(python), "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path),
                                            "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "16"


def bi_queries() -> list[Path]:
    return sorted(BI_DIR.glob("*.sql"))


#: the further tables the BI queries read, built on the frozen copy beside the ones above
BI_TABLES = ("dim_weather", "dim_equipment", "dim_campaign", "fact_equipment_hourly", "campaign_effectiveness",
             "customer_sales_daily", "customer_segments", "features_churn", "features_equipment")


@pytest.fixture(scope="module")
def bi_gold(trino: Trino, frozen_day: str) -> str:
    """``gold_test`` holding every table the BI queries read, built by gold_daily on the frozen copy.

    The shared ``gold`` namespace is built from the live Silver, whose quality gate may (rightly)
    stop at a slip upstream; the queries are the same, only the namespace differs.
    """
    have = {r[0] for r in trino.query(f"show tables from iceberg.{GOLD}")}
    tables = [t for t in BUILT if t not in have] + list(BI_TABLES)
    proc = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", frozen_day,
                      "--run-id", "test-bi", "--tables", ",".join(tables))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return GOLD


@pytest.mark.parametrize("query", bi_queries(), ids=lambda p: p.stem)
def test_bi_query_runs(trino: Trino, bi_gold: str, query: Path):
    sql = query.read_text().strip().rstrip(";")
    assert "iceberg.gold." in sql and sql == sql.lower(), f"{query.name}: lowercase, reads iceberg.gold.*"
    trino.query(sql.replace("iceberg.gold.", f"iceberg.{bi_gold}."))  # raises on any error


def test_a_run_labels_the_days_whose_horizon_it_closes(trino: Trino, bi_gold: str, frozen_day: str):
    """Labels look ahead (7 days for interactions, 30 for churn): a run also rebuilds the day that many days
    back, so a daily schedule fills them in. The frozen day's sales, copied 7 and 30 days back into the
    Gold inputs, make that history: every buyer then bought the same again on the frozen day."""
    day = datetime.fromisoformat(frozen_day).date()
    week_ago, month_ago = day - timedelta(days=7), day - timedelta(days=30)
    moved = {"sale_line_id": "sale_line_id || '-w7'", "sale_id": "sale_id || '-w7'",
             "sold_at": "sold_at - interval '7' day", "sale_date": "sale_date - interval '7' day"}
    cols = ", ".join(moved.get(c, f'"{c}"') for c in columns(trino, f"{GOLD}.fact_sales"))
    trino.query(f"insert into iceberg.{GOLD}.fact_sales select {cols} from iceberg.{GOLD}.fact_sales "
                f"where sale_date = date '{day}'")
    moved = {"sale_date": "sale_date - interval '30' day", "first_sold_at": "first_sold_at - interval '30' day",
             "last_sold_at": "last_sold_at - interval '30' day"}
    cols = ", ".join(moved.get(c, f'"{c}"') for c in columns(trino, f"{GOLD}.customer_sales_daily"))
    trino.query(f"insert into iceberg.{GOLD}.customer_sales_daily select {cols} "
                f"from iceberg.{GOLD}.customer_sales_daily where sale_date = date '{day}'")

    run = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", frozen_day, "--no-catch-up",
                     "--run-id", "test-labels", "--tables", "features_churn,features_interactions")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    labels = trino.query(f"select as_of_date, count(*), count_if(label_purchased_next_7d), "
                         f"count_if(label_purchased_next_7d is null) from iceberg.{GOLD}.features_interactions "
                         "group by 1 order by 1")
    assert [str(row[0]) for row in labels] == [str(week_ago), str(day)]
    (_, pairs, bought, unknown), (_, pairs_now, bought_now, unknown_now) = labels
    # a week back: every pair was bought again within the week; the frozen day: its horizon is still ahead
    assert pairs > 10 and bought == pairs and unknown == 0
    assert bought_now == 0 and unknown_now == pairs_now > 0
    churn = trino.query(f"select obs_date, count(*), count_if(label_churned), count_if(label_churned is null) "
                        f"from iceberg.{GOLD}.features_churn group by 1 order by 1")
    assert [str(row[0]) for row in churn] == [str(month_ago), str(day)]
    (_, customers, churned, unknown), (_, customers_now, _, unknown_now) = churn
    # a month back: every customer bought again within 30 days, so none churned
    assert customers > 10 and churned == 0 and unknown == 0
    assert unknown_now == customers_now > 0


#: the equipment label computed independently, in Trino SQL, from fact_equipment_hourly: a fault starts (a
#: fault hour after an hour without one) within the 24 hours after the row's hour; unknown (NULL) while
#: those hours pass the last hour on record
EQUIPMENT_LABELS = """with hours as (
  select device_id, hour_start, fault_readings > 0 as fault from iceberg.{gold}.fact_equipment_hourly
), starts as (
  select cur.device_id, cur.hour_start
  from hours cur left join hours prev
    on prev.device_id = cur.device_id and prev.hour_start = cur.hour_start - interval '1' hour
  where cur.fault and not coalesce(prev.fault, false)
), bound as (select max(hour_start) as last_hour from hours)
select f.device_id, f.hour_start, f.label_failure_next_24h,
  case when f.hour_start + interval '24' hour > max(b.last_hour) then null else count(s.device_id) > 0 end
from iceberg.{gold}.features_equipment f
cross join bound b
left join starts s on s.device_id = f.device_id and s.hour_start > f.hour_start
  and s.hour_start <= f.hour_start + interval '24' hour
where f.hour_start >= timestamp '{closed} 00:00:00 UTC' and f.hour_start < timestamp '{day} 00:00:00 UTC'
group by 1, 2, 3"""


def test_a_run_labels_the_equipment_hours_of_the_day_before(trino: Trino, bi_gold: str, frozen_day: str):
    """The equipment label looks 24 hours ahead: a run also rebuilds the day before its window, reading the
    window's hours, so yesterday's hours get the labels their next 24 hours decide. The frozen day's hours,
    copied a day back into the Gold input, make that yesterday; a fault started in the first hour on record
    of one device makes a label come out true."""
    day = datetime.fromisoformat(frozen_day).date()
    closed = day - timedelta(days=1)
    fact = f"iceberg.{GOLD}.fact_equipment_hourly"
    moved = {"hour_start": "hour_start - interval '1' day"}
    cols = ", ".join(moved.get(c, f'"{c}"') for c in columns(trino, f"{GOLD}.fact_equipment_hourly"))
    trino.query(f"insert into {fact} select {cols} from {fact} "
                f"where hour_start >= timestamp '{day} 00:00:00 UTC'")
    (first_hour, device), = trino.query(
        f"select hour_start, min(device_id) from {fact} where hour_start = (select min(hour_start) from {fact} "
        f"where hour_start >= timestamp '{day} 00:00:00 UTC') group by 1")
    trino.query(f"update {fact} set fault_readings = greatest(fault_readings, 1), worst_status = 'fault' "
                f"where device_id = '{device}' and hour_start = timestamp '{first_hour:%Y-%m-%d %H:%M:%S} UTC'")

    run = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", frozen_day, "--no-catch-up",
                     "--run-id", "test-equipment-labels", "--tables", "features_equipment")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = trino.query(EQUIPMENT_LABELS.format(gold=GOLD, closed=closed, day=day))
    copied = trino.query(f"select count(*) from {fact} where hour_start >= timestamp '{closed} 00:00:00 UTC' "
                         f"and hour_start < timestamp '{day} 00:00:00 UTC'")[0][0]
    assert len(rows) == copied > 0, "every hour of the day before has its row"
    wrong = [r for r in rows if r[2] != r[3]]
    assert not wrong, f"{len(wrong)} of {len(rows)} labels differ from the hours on record, e.g. {wrong[:3]}"
    known = [r for r in rows if r[2] is not None]
    assert known, "the hours whose next 24 are on record get a label"
    assert any(r[2] for r in known if r[0] == device), f"{device}'s fault at {first_hour} labels its hours before"
    # the frozen day's own hours: their 24 hours ahead are not on record yet
    unknown = trino.query(f"select count(*), count(label_failure_next_24h) from iceberg.{GOLD}.features_equipment "
                          f"where hour_start >= timestamp '{day} 00:00:00 UTC'")
    assert unknown[0][0] > 0 and unknown[0][1] == 0
