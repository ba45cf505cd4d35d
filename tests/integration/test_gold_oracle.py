"""Oracle: Gold sales equal an independent computation (DuckDB) from the producer's ledger and the master files.

A seeded producer run sends till lines with resends, disorder, late and malformed records. The
oracle never looks at Silver, Flink or Spark: it takes the ledger entries the producer expects
in Silver, reads those exact records back from Kafka by their coordinates, and computes
``fact_sales`` (with each line's list price and category from the newest products file of its
day), ``product_sales_daily``, the store rows of ``channel_performance``, ``customer_sales_daily``,
``customer_segments``, the sales columns of ``customer_profiles`` and ``campaign_effectiveness``
(with two in-store campaigns added to the test's copy of the campaigns file, so some campaign has
sales) in DuckDB and Python decimals. The pipeline's result: that run's Silver rows copied into a
test namespace, built into Gold by the job. Both must agree exactly, row for row.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest
from confluent_kafka import Consumer, TopicPartition

from headwater.contracts import load_contract
from headwater.settings import Settings
from headwater.stack.trino import Trino
from producers.faults import FaultPlan
from producers.run import ProduceOptions, produce
from tests.integration.conftest import reconciled
from tests.integration.gold_helpers import copy_events, drop_namespace_tables, gold_daily

pytestmark = pytest.mark.integration

SRC = "gold_oracle_src"
GOLD = "gold_oracle"
BUILT = ("dimension", "fact_sales", "fact_feedback", "fact_web_sessions", "product_sales_daily",
         "channel_performance", "customer_sales_daily", "customer_segments", "customer_profiles",
         "campaign_effectiveness")
CENT, BASELINE_DAYS = Decimal("0.01"), 28
FACT_COLUMNS = ("sale_line_id", "sale_date", "store_id", "product_id", "quantity", "unit_price", "discount",
                "revenue", "list_price", "cost", "margin")


def expected_in_silver(ledger) -> dict[tuple[int, int], str]:
    """(partition, offset) -> event id of the ledger entries the producer expects in Silver (one per event)."""
    out = {}
    with open(ledger) as f:
        for line in f:
            entry = json.loads(line)
            if entry["stream"] == "pos_sales" and entry["expected"] == "silver":
                out[(entry["partition"], entry["offset"])] = entry["event_id"]
    return out


def sent_records(settings: Settings, coordinates: dict[tuple[int, int], str]) -> list[dict]:
    """The records at the given coordinates of the pos_sales topic, decoded as the producer wrote them."""
    topic = load_contract("pos_sales").topic
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "headwater-oracle",
                         "enable.auto.commit": False})
    records = []
    try:
        for partition in sorted({p for p, _ in coordinates}):
            wanted = sorted(o for p, o in coordinates if p == partition)
            consumer.assign([TopicPartition(topic, partition, wanted[0])])
            todo = set(wanted)
            while todo:
                msg = consumer.poll(30)
                assert msg is not None and msg.error() is None, f"reading {topic}[{partition}]: {msg and msg.error()}"
                if msg.offset() in todo:
                    todo.discard(msg.offset())
                    records.append(json.loads(msg.value(), parse_float=Decimal))
    finally:
        consumer.close()
    return records


def oracle(records: list[dict], landing) -> duckdb.DuckDBPyConnection:
    """DuckDB with ``fact_sales``, ``product_sales_daily``, ``channel_performance`` (store rows),
    ``customer_segments`` and ``customer_profiles`` (sales columns) computed from the records and the products
    files (``customer_sales_daily`` is checked by queries on ``fact_sales``)."""
    con = duckdb.connect()
    con.execute("create table lines (sale_line_id varchar, sale_id varchar, sale_date date, sold_at_us bigint, "
                "store_id varchar, product_id varchar, customer_id varchar, quantity integer, "
                "unit_price decimal(10, 2), discount decimal(10, 2))")
    # sold_at is ISO-8601 in UTC ('...Z'): its first ten characters are the UTC day
    con.executemany("insert into lines values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (r["event_id"], r["sale_id"], date.fromisoformat(r["sold_at"][:10]), micros(r["sold_at"]), r["store_id"],
         r["product_id"], r["customer_id"], r["quantity"], r["unit_price"], r["discount"]) for r in records])
    products = str(landing / "products" / "products_*.csv")
    con.execute(f"""
        create table prices as
        select product_id, category, cast(unit_price as decimal(10, 2)) as unit_price,
               cast(unit_cost as decimal(10, 2)) as unit_cost,
               cast(regexp_extract(filename, '_(\\d{{4}}-\\d{{2}}-\\d{{2}})\\.csv$', 1) as date) as snapshot_date
        from read_csv('{products}', filename = true, header = true, all_varchar = true)""")
    con.execute("""
        create table fact_sales as
        with versioned as (
            -- the product version valid on the sale's day: the newest products file of that day or before
            select l.*, p.unit_price as list_price, p.unit_cost, p.category,
                   row_number() over (partition by l.sale_line_id order by p.snapshot_date desc) as n
            from lines l join prices p on p.product_id = l.product_id and p.snapshot_date <= l.sale_date)
        select sale_line_id, sale_id, sale_date, sold_at_us, store_id, product_id, category, customer_id, quantity,
               unit_price, discount,
               cast(quantity * unit_price - discount as decimal(12, 2)) as revenue, list_price,
               cast(quantity * unit_cost as decimal(12, 2)) as cost,
               cast(quantity * unit_price - discount - quantity * unit_cost as decimal(12, 2)) as margin
        from versioned where n = 1""")
    con.execute("""
        create table product_sales_daily as
        select sale_date, store_id, product_id, cast(sum(revenue) as decimal(12, 2)) as revenue,
               sum(quantity) as units, count(*) as lines, count(distinct sale_id) as orders,
               cast(sum(discount) as decimal(12, 2)) as discount, cast(sum(margin) as decimal(12, 2)) as margin
        from fact_sales group by all""")
    # till lines only: the store channel; avg_order_value is checked apart (exact decimal rounding)
    con.execute("""
        create table channel_performance as
        select sale_date, 'store' as channel, cast(sum(revenue) as decimal(12, 2)) as revenue, sum(quantity) as units,
               count(*) as lines, count(distinct sale_id) as orders, count(distinct customer_id) as customers,
               cast(sum(discount) as decimal(12, 2)) as discount, cast(sum(margin) as decimal(12, 2)) as margin
        from fact_sales group by all""")
    # RFM as of the last day: scores 1-5 by quintile (percent rank), ties sharing a score. A purchase is a
    # receipt's lines on one day: a late line can date a receipt to the next day as well
    con.execute("""
        create table customer_segments as
        with rfm as (
            select customer_id, max(sale_date) as last_purchase_date,
                   count(distinct (sale_id, sale_date)) as frequency, cast(sum(revenue) as decimal(12, 2)) as monetary,
                   date_diff('day', max(sale_date), (select max(sale_date) from fact_sales)) as recency_days
            from fact_sales where customer_id is not null group by customer_id),
        scored as (
            select *, least(5, cast(floor(percent_rank() over (order by recency_days desc) * 5) as integer) + 1) as r,
                   least(5, cast(floor(percent_rank() over (order by frequency) * 5) as integer) + 1) as f,
                   least(5, cast(floor(percent_rank() over (order by monetary) * 5) as integer) + 1) as m
            from rfm)
        select customer_id, last_purchase_date, recency_days, frequency, monetary, r, f, m,
               case when r >= 4 and f >= 4 then 'champions' when r >= 3 and f >= 3 then 'loyal'
                    when r >= 4 then 'promising' when r <= 2 and f >= 3 then 'at_risk'
                    when r <= 2 then 'hibernating' else 'needs_attention' end as segment
        from scored""")
    # per loyalty customer: totals, first and last purchase, favourite category (revenue) and store
    # (receipts), ties to the smallest value; till lines only, so the store share is 1 (checked apart)
    con.execute("""
        create table customer_profiles as
        with bought as (select * from fact_sales where customer_id is not null),
        categories as (
            select customer_id, category,
                   row_number() over (partition by customer_id order by sum(revenue) desc, category) as n
            from bought group by customer_id, category),
        stores as (
            select customer_id, store_id,
                   row_number() over (partition by customer_id
                                      order by count(distinct (sale_id, sale_date)) desc, store_id) as n
            from bought group by customer_id, store_id)
        select b.customer_id, count(distinct (b.sale_id, b.sale_date)) as purchases, count(*) as lines,
               sum(b.quantity) as units, cast(sum(b.revenue) as decimal(12, 2)) as revenue,
               min(b.sold_at_us) as first_purchase_us, max(b.sold_at_us) as last_purchase_us,
               any_value(c.category) as favourite_category,
               any_value(s.store_id) as favourite_store_id
        from bought b
        join categories c on c.customer_id = b.customer_id and c.n = 1
        join stores s on s.customer_id = b.customer_id and s.n = 1
        group by b.customer_id""")
    return con


def with_test_campaigns(landing, target, days: list[date]) -> list[dict]:
    """A copy of the landing folder whose newest campaigns file adds two in-store campaigns over the sale days.

    One for every category from the last sale day (the days before are its baseline), one for bread
    over all of them. Returns the campaigns the job will see: the newest version of each.
    """
    shutil.copytree(landing, target)
    newest = sorted((target / "campaigns").glob("campaigns_*.json"))[-1]
    added = [{"campaign_id": "K900", "name": "oracle all", "channel": "in_store", "category": None,
              "discount_pct": 10, "starts_on": str(days[-1]), "ends_on": str(days[-1] + timedelta(days=6))},
             {"campaign_id": "K901", "name": "oracle bread", "channel": "in_store", "category": "bread",
              "discount_pct": 15, "starts_on": str(days[0]), "ends_on": str(days[-1])}]
    with newest.open("a") as f:
        f.writelines(json.dumps(c) + "\n" for c in added)
    latest: dict[str, dict] = {}
    for path in sorted((target / "campaigns").glob("campaigns_*.json")):  # dated names: oldest first
        for line in path.read_text().splitlines():
            if line.strip():
                c = json.loads(line)
                latest[c["campaign_id"]] = c
    return list(latest.values())


def campaign_oracle(con: duckdb.DuckDBPyConnection, campaigns: list[dict], as_of: date) -> list[tuple]:
    """Per campaign started by ``as_of``: (id, days, revenue, units, daily revenue, baseline daily revenue,
    discount cost, attributed orders and revenue, then incremental revenue, lift and revenue per cost).
    Till lines only: online campaigns see no sales."""
    daily = con.execute("select sale_date, category, sum(revenue), sum(quantity), sum(discount) "
                        "from fact_sales where sale_date <= ? group by all", [as_of]).fetchall()
    out = []
    for c in campaigns:
        start, end = date.fromisoformat(c["starts_on"]), date.fromisoformat(c["ends_on"])
        if start > as_of:
            continue
        end = min(end, as_of)
        scope = [d for d in daily if c["channel"] == "in_store" and c["category"] in (None, d[1])
                 and start - timedelta(days=BASELINE_DAYS) <= d[0] <= end]
        during = [d for d in scope if d[0] >= start]
        revenue = sum((d[2] for d in during), Decimal(0))
        campaign_days = (end - start).days + 1
        baseline = sum((d[2] for d in scope if d[0] < start), Decimal(0))
        cost = sum((d[4] for d in during), Decimal(0))
        daily_revenue, baseline_daily = revenue / campaign_days, baseline / BASELINE_DAYS
        out.append((c["campaign_id"], campaign_days, revenue, sum(d[3] for d in during),
                    daily_revenue.quantize(CENT, ROUND_HALF_UP), baseline_daily.quantize(CENT, ROUND_HALF_UP),
                    cost, 0, Decimal(0),
                    # derived: incremental revenue, lift over the baseline, revenue per discount given
                    (revenue - baseline_daily * campaign_days).quantize(CENT, ROUND_HALF_UP),
                    (daily_revenue / baseline_daily - 1).quantize(Decimal("0.0001"), ROUND_HALF_UP)
                    if baseline else None,
                    (revenue / cost).quantize(Decimal("0.0001"), ROUND_HALF_UP) if cost else None))
    return out


def micros(value: str | datetime) -> int:
    """Microseconds since the epoch of an ISO-8601 string or a datetime (naive means UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def normalised(rows) -> list[tuple]:
    """Rows comparable across engines: decimals by value, everything else as is, in a fixed order."""
    return sorted(tuple(Decimal(str(v)) if isinstance(v, (Decimal, float)) else v for v in row) for row in rows)


def test_gold_sales_equal_an_oracle_from_the_ledger(stack: Settings, trino: Trino, tmp_path):
    faults = FaultPlan(late=0.04, late_beyond=0.5, disorder=0.1, duplicates=0.05, malformed=0.05)
    result = produce(stack, ProduceOptions(streams=("pos_sales",), count=2000, rate=0, seed=2611, faults=faults),
                     progress=False)
    assert result.acked == 2000
    accounts = reconciled(stack, trino, result.ledger, timeout=240)
    assert all(a.ok for a in accounts), accounts
    # a few fresh reviews of this run: customer_profiles reads fact_feedback, whose gates want fresh rows
    reviews = produce(stack, ProduceOptions(streams=("customer_feedback",), count=20, rate=0, seed=2612),
                      progress=False)
    assert all(a.ok for a in reconciled(stack, trino, reviews.ledger, timeout=240))

    coordinates = expected_in_silver(result.ledger)
    records = sent_records(stack, coordinates)
    assert len(records) == len(coordinates) == len(set(coordinates.values())) > 1500
    expected = oracle(records, stack.landing_dir)
    days = [d for (d,) in expected.execute("select distinct sale_date from lines order by 1").fetchall()]

    # the pipeline: this run's Silver rows, built into Gold by the job
    drop_namespace_tables(trino, SRC)
    drop_namespace_tables(trino, GOLD)
    ids = ", ".join(f"'{i}'" for i in coordinates.values())
    copy_events(trino, "pos_sales", SRC, f"event_id in ({ids})")
    for name in ("online_orders", "online_order_items"):
        trino.query(f"create table iceberg.{SRC}.{name} as select * from iceberg.silver.{name} with no data")
    # visits make channel_performance's web and app rows (the oracle checks the store rows)
    copy_events(trino, "clickstream", SRC, f"occurred_at >= timestamp '{days[0]} 00:00:00 UTC'")
    # reviews feed customer_profiles (its review columns are not part of the oracle)
    copy_events(trino, "customer_feedback", SRC, f"reviewed_at >= timestamp '{days[0]} 00:00:00 UTC'")
    campaigns = with_test_campaigns(stack.landing_dir, tmp_path / "landing", days)
    built = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", str(days[0]),
                       "--end", str(days[-1]), "--tables", ",".join(BUILT),
                       "--no-catch-up", "--run-id", "oracle", env={"HEADWATER_LANDING": str(tmp_path / "landing")})
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]

    cols = ", ".join(FACT_COLUMNS)
    gold_facts = trino.query(f"select {cols} from iceberg.{GOLD}.fact_sales")
    assert len(gold_facts) == len(records)
    assert normalised(gold_facts) == normalised(expected.execute(f"select {cols} from fact_sales").fetchall())
    daily = "sale_date, store_id, product_id, revenue, units, lines, orders, discount, margin"
    assert normalised(trino.query(f"select {daily} from iceberg.{GOLD}.product_sales_daily")) == \
        normalised(expected.execute(f"select {daily} from product_sales_daily").fetchall())

    channel = "sale_date, channel, revenue, units, lines, orders, customers, discount, margin"
    gold_channel = trino.query(f"select {channel}, avg_order_value from iceberg.{GOLD}.channel_performance "
                               "where channel = 'store'")
    assert normalised(row[:-1] for row in gold_channel) == \
        normalised(expected.execute(f"select {channel} from channel_performance").fetchall())
    for row in gold_channel:  # revenue per order, rounded half up to cents
        assert Decimal(str(row[-1])) == (Decimal(str(row[2])) / row[5]).quantize(Decimal("0.01"), ROUND_HALF_UP)

    # RFM segments as of the window's last day (the job's as_of day)
    rfm = "customer_id, last_purchase_date, recency_days, frequency, monetary"
    gold_rfm = trino.query(f"select {rfm}, r_score, f_score, m_score, segment "
                           f"from iceberg.{GOLD}.customer_segments where as_of_date = date '{days[-1]}'")
    oracle_rfm = expected.execute(f"select {rfm}, r, f, m, segment from customer_segments").fetchall()
    assert len(oracle_rfm) > 10
    assert normalised(gold_rfm) == normalised(oracle_rfm)

    # the per-day customer partial: every column per day, customer, store and category (till lines: channel
    # store); purchases add up to the distinct receipts per day, customer and store
    partial = "sale_date, customer_id, store_id, channel, category, lines, units, revenue, first_sold_at, last_sold_at"
    gold_partial = trino.query(f"select {partial} from iceberg.{GOLD}.customer_sales_daily")
    assert normalised((*row[:8], micros(row[8]), micros(row[9])) for row in gold_partial) == \
        normalised(expected.execute(
            "select sale_date, customer_id, store_id, 'store', category, count(*), sum(quantity), "
            "cast(sum(revenue) as decimal(12, 2)), min(sold_at_us), max(sold_at_us) from fact_sales "
            "where customer_id is not null group by all").fetchall())
    receipts = "select sale_date, customer_id, store_id, {} from {} group by 1, 2, 3"
    assert normalised(trino.query(receipts.format("sum(purchases)", f"iceberg.{GOLD}.customer_sales_daily"))) == \
        normalised(expected.execute(receipts.format("count(distinct sale_id)", "fact_sales where customer_id "
                                                    "is not null")).fetchall())

    # customer profiles as of the last day, for the customers who bought: the sales columns
    profile = ("customer_id, purchases, lines, units, revenue, first_purchase_at, last_purchase_at, "
               "favourite_category, favourite_store_id")
    gold_profiles = trino.query(f"select {profile}, avg_purchase_value, store_revenue_share, web_revenue_share, "
                                f"app_revenue_share from iceberg.{GOLD}.customer_profiles "
                                f"where as_of_date = date '{days[-1]}' and purchases > 0")
    oracle_profiles = expected.execute("select * from customer_profiles").fetchall()
    assert len(oracle_profiles) > 10
    assert normalised((*row[:5], micros(row[5]), micros(row[6]), *row[7:9]) for row in gold_profiles) == \
        normalised(oracle_profiles)
    for row in gold_profiles:  # revenue per purchase rounded half up to cents; till lines only: all in store
        assert Decimal(str(row[9])) == (Decimal(str(row[4])) / row[1]).quantize(CENT, ROUND_HALF_UP)
        if row[4] > 0:  # a share of nothing is NULL
            assert (row[10], row[11], row[12]) == (1.0, 0.0, 0.0), row

    # campaign effectiveness as of the last day: amounts and counts exactly; the figures Spark derives
    # through decimal intermediates of reduced scale (lift, incremental revenue, revenue per cost) to
    # their last digit
    gold_campaigns = trino.query(
        "select campaign_id, campaign_days, campaign_revenue, campaign_units, campaign_daily_revenue, "
        "baseline_daily_revenue, discount_cost, attributed_orders, attributed_revenue, incremental_revenue, "
        f"revenue_lift, revenue_per_cost from iceberg.{GOLD}.campaign_effectiveness "
        f"where as_of_date = date '{days[-1]}'")
    oracle_campaigns = campaign_oracle(expected, campaigns, days[-1])
    assert any(row[2] > 0 for row in oracle_campaigns if row[0] in ("K900", "K901")), oracle_campaigns
    assert normalised(row[:9] for row in gold_campaigns) == normalised(row[:9] for row in oracle_campaigns)
    oracle_by_id = {row[0]: row for row in oracle_campaigns}
    for row in gold_campaigns:
        near = oracle_by_id[row[0]]
        assert abs(Decimal(str(row[9])) - near[9]) <= CENT, (row, near)
        for got, want in zip(row[10:], near[10:], strict=True):
            assert (got is None) == (want is None) and (want is None or abs(Decimal(str(got)) - want)
                                                        <= Decimal("0.0001")), (row, near)
