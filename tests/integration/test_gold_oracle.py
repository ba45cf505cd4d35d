"""Oracle: Gold sales equal an independent computation (DuckDB) from the producer's ledger and the master files.

A seeded producer run sends till lines with resends, disorder, late and malformed records. The
oracle never looks at Silver, Flink or Spark: it takes the ledger entries the producer expects
in Silver, reads those exact records back from Kafka by their coordinates, and computes
``fact_sales`` (with each line's list price from the newest products file of its day) and
``product_sales_daily`` in DuckDB. The pipeline's result: that run's Silver rows copied into a
test namespace, built into Gold by the job. Both must agree exactly, row for row.
"""

from __future__ import annotations

import json
from datetime import date
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
BUILT = ("dimension", "fact_sales", "fact_web_sessions", "product_sales_daily", "channel_performance",
         "customer_segments")
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
    """DuckDB with ``fact_sales`` and ``product_sales_daily`` computed from the records and the products files."""
    con = duckdb.connect()
    con.execute("create table lines (sale_line_id varchar, sale_id varchar, sale_date date, store_id varchar, "
                "product_id varchar, customer_id varchar, quantity integer, unit_price decimal(10, 2), "
                "discount decimal(10, 2))")
    # sold_at is ISO-8601 in UTC ('...Z'): its first ten characters are the UTC day
    con.executemany("insert into lines values (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (r["event_id"], r["sale_id"], date.fromisoformat(r["sold_at"][:10]), r["store_id"], r["product_id"],
         r["customer_id"], r["quantity"], r["unit_price"], r["discount"]) for r in records])
    products = str(landing / "products" / "products_*.csv")
    con.execute(f"""
        create table prices as
        select product_id, cast(unit_price as decimal(10, 2)) as unit_price,
               cast(unit_cost as decimal(10, 2)) as unit_cost,
               cast(regexp_extract(filename, '_(\\d{{4}}-\\d{{2}}-\\d{{2}})\\.csv$', 1) as date) as snapshot_date
        from read_csv('{products}', filename = true, header = true, all_varchar = true)""")
    con.execute("""
        create table fact_sales as
        with versioned as (
            -- the product version valid on the sale's day: the newest products file of that day or before
            select l.*, p.unit_price as list_price, p.unit_cost,
                   row_number() over (partition by l.sale_line_id order by p.snapshot_date desc) as n
            from lines l join prices p on p.product_id = l.product_id and p.snapshot_date <= l.sale_date)
        select sale_line_id, sale_id, sale_date, store_id, product_id, customer_id, quantity, unit_price, discount,
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
    # RFM as of the last day: scores 1-5 by quintile (percent rank), ties sharing a score
    con.execute("""
        create table customer_segments as
        with rfm as (
            select customer_id, max(sale_date) as last_purchase_date, count(distinct sale_id) as frequency,
                   cast(sum(revenue) as decimal(12, 2)) as monetary,
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
    return con


def normalised(rows) -> list[tuple]:
    """Rows comparable across engines: decimals by value, everything else as is, in a fixed order."""
    return sorted(tuple(Decimal(str(v)) if isinstance(v, (Decimal, float)) else v for v in row) for row in rows)


def test_gold_sales_equal_an_oracle_from_the_ledger(stack: Settings, trino: Trino):
    faults = FaultPlan(late=0.04, late_beyond=0.5, disorder=0.1, duplicates=0.05, malformed=0.05)
    result = produce(stack, ProduceOptions(streams=("pos_sales",), count=2000, rate=0, seed=2611, faults=faults),
                     progress=False)
    assert result.acked == 2000
    accounts = reconciled(stack, trino, result.ledger, timeout=240)
    assert all(a.ok for a in accounts), accounts

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
    built = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", str(days[0]),
                       "--end", str(days[-1]), "--tables", ",".join(BUILT),
                       "--no-catch-up", "--run-id", "oracle")
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
