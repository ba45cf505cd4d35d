"""Synthetic Silver sales for the Gold benchmark: ``silver.pos_sales`` rows made by Spark from ``range(N)``.

Run by ``bench/gold_build.py`` through the same spark-submit path as ``headwater spark`` jobs::

    spark-submit bench/gold_silver.py --table NS.pos_sales --rows N [--offset K] --seed S
        --from EPOCH_S --to EPOCH_S --keys-date YYYY-MM-DD --partitions P

Every row is a pure function of its id and the seed (xxhash64 and md5 of both), so a run gives
the same rows whatever the machine or the number of tasks; ``--offset`` continues the ids of an
earlier run (fresh event and receipt ids for an increment, from the next receipt boundary).
Three lines make a receipt: they share the receipt's store, customer, payment and till time.
Store, product (with its price) and customer ids are those of the master-data landing files of
``--keys-date``: keys are never removed from later snapshots, so every line resolves to a
dimension version on every later day.

The column expressions are plain SQL strings, kept free of pyspark so a unit test can check them
against the contract without a Spark environment.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

#: lines per till receipt
LINES_PER_RECEIPT = 3
#: share (percent) of receipts with a scanned loyalty card
CUSTOMER_PERCENT = 40
#: share (percent) of lines with a 10 % discount
DISCOUNT_PERCENT = 10


def _uuid(*parts: str) -> str:
    """A deterministic UUID-shaped string from the md5 of the parts (Spark SQL)."""
    digest = f"md5(concat_ws(':', {', '.join(parts)}))"
    return f"regexp_replace({digest}, '^(.{{8}})(.{{4}})(.{{4}})(.{{4}})(.{{12}})$', '$1-$2-$3-$4-$5')"


def _pick(array: str, salt: str, over: str) -> str:
    """A uniform element of an array column, chosen by the hash of ``over`` (Spark SQL)."""
    return f"element_at({array}, cast(pmod(xxhash64(_seed, '{salt}', {over}), size({array})) + 1 as int))"


def helper_expressions() -> dict[str, str]:
    """Intermediate columns over ``id`` and the key arrays, added in this order, dropped before the write."""
    return {
        "_receipt": f"id div {LINES_PER_RECEIPT}",
        "_product": "cast(pmod(xxhash64(_seed, 'p', id), size(_products)) + 1 as int)",
        # prices travel as strings (exact decimals): the till rings the snapshot's list price
        "_price": "cast(element_at(_prices, _product) as decimal(10,2))",
        "_sold_at": "timestamp_micros(_from_us + pmod(xxhash64(_seed, 't', _receipt), _span_us))",
        # mostly single items, some pairs, a few trays of 3 to 6
        "_quantity": "cast(case when pmod(xxhash64(_seed, 'q', id), 100) < 70 then 1 "
                     "when pmod(xxhash64(_seed, 'q', id), 100) < 92 then 2 else 3 + pmod(id, 4) end as int)",
    }


def sales_expressions(partitions: int) -> dict[str, str]:
    """``silver.pos_sales`` column -> Spark SQL expression, in the table's column order.

    Reads ``id`` (the row number), ``_seed``, the key arrays ``_stores``, ``_products``,
    ``_prices`` and ``_customers`` and the helper columns of :func:`helper_expressions`.
    """
    h = "pmod(xxhash64(_seed, '{}', {}), 100)"
    return {
        "event_id": _uuid("_seed", "'e'", "id"),
        "sale_id": _uuid("_seed", "'r'", "_receipt"),
        "line_number": f"cast(id % {LINES_PER_RECEIPT} + 1 as int)",
        "store_id": _pick("_stores", "s", "_receipt"),
        "product_id": "element_at(_products, _product)",
        "customer_id": f"case when {h.format('c', '_receipt')} < {CUSTOMER_PERCENT} "
                       f"then {_pick('_customers', 'k', '_receipt')} end",
        "quantity": "_quantity",
        "unit_price": "_price",
        "discount": f"cast(case when {h.format('d', 'id')} < {DISCOUNT_PERCENT} "
                    "then round(_quantity * _price * 0.1, 2) else 0 end as decimal(10,2))",
        "payment_method": "element_at(array('card', 'card', 'card', 'mobile', 'mobile', 'cash', 'cash', "
                          "'gift_card'), cast(pmod(xxhash64(_seed, 'm', _receipt), 8) + 1 as int))",
        "sold_at": "_sold_at",
        "is_late": "false",
        "kafka_partition": f"cast(pmod(xxhash64(_receipt), {partitions}) as int)",
        "kafka_offset": "id",
        # Flink stamps the row a moment after the till: seconds later, never before
        "ingested_at": "_sold_at + make_dt_interval(0, 0, 0, 2)",
    }


def landing_keys(landing: Path, day: str) -> dict[str, list]:
    """Store ids, active product ids with their prices and customer ids of one day's master-data files."""
    from headwater.contracts import load_contract

    def rows(dataset: str) -> list[dict]:
        path = landing / dataset / f"{dataset}_{day}.{load_contract(dataset).file_format}"
        with path.open(encoding="utf-8") as f:
            if path.suffix == ".csv":
                return list(csv.DictReader(f))
            return [json.loads(line) for line in f if line.strip()]

    products = [p for p in rows("products") if str(p["active"]).lower() == "true"]
    return {"stores": [s["store_id"] for s in rows("stores")],
            "products": [p["product_id"] for p in products],
            "prices": [str(p["unit_price"]) for p in products],
            "customers": [c["customer_id"] for c in rows("customers")]}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The generator's options (see the module docstring)."""
    p = argparse.ArgumentParser(prog="gold_silver", description=__doc__.splitlines()[0])
    p.add_argument("--table", required=True, help="target table, namespace.pos_sales (created beforehand)")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--offset", type=int, default=0, help="first row id, rounded up to a receipt boundary "
                   "(an increment continues the ids)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--from", dest="t_from", type=float, required=True, help="earliest sold_at, epoch seconds")
    p.add_argument("--to", dest="t_to", type=float, required=True, help="latest sold_at, epoch seconds")
    p.add_argument("--keys-date", required=True, help="date of the landing files the keys come from")
    p.add_argument("--partitions", type=int, default=3, help="Kafka partitions the lineage columns spread over")
    return p.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Append the rows to the table; print one JSON line with what was written."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.utils import is_remote

    from headwater.settings import load_settings

    args = parse_args(sys.argv[1:] if argv is None else argv)
    keys = landing_keys(load_settings().landing_dir, args.keys_date)
    spark = (SparkSession.builder.appName("headwater-bench-silver")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "8").getOrCreate())
    if not is_remote():  # a Spark Connect server keeps its own log level
        spark.sparkContext.setLogLevel("WARN")
    from_us = int(args.t_from * 1_000_000)
    span_us = max(1, int((args.t_to - args.t_from) * 1_000_000))
    # an increment starts on a receipt boundary: a receipt's lines must not straddle two runs (times differ)
    first = -(-args.offset // LINES_PER_RECEIPT) * LINES_PER_RECEIPT
    df = spark.range(first, first + args.rows).select(
        "id", F.lit(args.seed).alias("_seed"), F.lit(from_us).alias("_from_us"), F.lit(span_us).alias("_span_us"),
        # one literal array each (not one literal per element): the plan stays small with 50k customers
        *[F.lit(v).alias(f"_{k}") for k, v in keys.items()])
    for name, expr in helper_expressions().items():
        df = df.withColumn(name, F.expr(expr))
    columns = sales_expressions(args.partitions)
    target = spark.table(args.table).columns
    if list(columns) != target:
        raise SystemExit(f"{args.table} has columns {target}, the generator makes {list(columns)}")
    df.select(*[F.expr(e).alias(c) for c, e in columns.items()]).writeTo(args.table).append()
    print(json.dumps({"table": args.table, "rows": args.rows, "first_id": first}), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
