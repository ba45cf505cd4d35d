"""Run inside the Spark environment: apply the spark_jobs.gold transforms to in-memory rows, print JSON.

stdin: ``{"cases": {"<label>": {"case": "<name>", ...payload}}}``; stdout (last line): ``{"<label>": result}``.
One JVM runs every case of a test module: a Spark start costs ~15 s. Rows are dicts of the
contracts' fields (missing nullable fields are NULL), timestamps as ``2026-11-20T07:00:00Z``;
results come back as lists of dicts with dates and timestamps (UTC) in ISO form and decimals as strings.
"""

import json
import os
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

os.environ["TZ"] = "UTC"  # collect() renders timestamps in the process's zone
time.tzset()

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql.types import DateType, DecimalType, StructField, StructType, TimestampType  # noqa: E402

from headwater.contracts import load_contract  # noqa: E402
from headwater.contracts.spark import spark_schema_ddl  # noqa: E402
from spark_jobs.gold import aggregates, dimensions, facts, features, incremental  # noqa: E402

SCD2 = {"products": dimensions.dim_product, "stores": dimensions.dim_store, "customers": dimensions.dim_customer}
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def _value(v, dtype):
    if v is None:
        return None
    if isinstance(dtype, TimestampType):
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    if isinstance(dtype, DateType):
        return date.fromisoformat(v)
    if isinstance(dtype, DecimalType):
        return Decimal(v)
    return v


def frame(spark: SparkSession, schema: str | StructType, rows: list[dict]) -> DataFrame:
    st = schema if isinstance(schema, StructType) else spark.createDataFrame([], schema).schema
    unknown = {k for r in rows for k in r} - set(st.fieldNames())
    assert not unknown, f"columns not in the schema: {sorted(unknown)}"
    data = [tuple(_value(r.get(f.name), f.dataType) for f in st.fields) for r in rows]
    return spark.createDataFrame(data, st)


def contract_frame(spark: SparkSession, name: str, rows: list[dict]) -> DataFrame:
    return frame(spark, spark_schema_ddl(load_contract(name)), rows)


def _json(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, list):
        return [_json(x) for x in v]
    return v


def rows(df: DataFrame, *order: str) -> list[dict]:
    return [{k: _json(v) for k, v in r.asDict().items()} for r in df.orderBy(*order).collect()]


def materialise(spark: SparkSession, df: DataFrame) -> DataFrame:
    """What a stored table gives back: the rows, without the lineage that computed them."""
    return spark.createDataFrame(df.collect(), df.schema)


def snapshots(spark: SparkSession, dataset: str, days: list) -> DataFrame:
    """[[day, rows], ...] as one frame with a snapshot_date column (the file date)."""
    parts = [contract_frame(spark, dataset, rs).withColumn("snapshot_date", F.lit(date.fromisoformat(d)))
             for d, rs in days]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def build_scd2(spark: SparkSession, dataset: str, steps: list) -> tuple[DataFrame | None, list]:
    dim, history = None, []
    for day, rs in steps:
        dim = materialise(spark, SCD2[dataset](dim, contract_frame(spark, dataset, rs), date.fromisoformat(day)))
        history.append(dim)
    return dim, history


def nullable(schema: StructType) -> StructType:
    """A table's schema for synthetic rows that fill only the columns a transform reads."""
    return StructType([StructField(f.name, f.dataType, True) for f in schema.fields])


@cache
def fact_sales_schema(spark: SparkSession) -> StructType:
    """fact_sales' own output schema (every column nullable), so synthetic fact rows look like the real table."""
    e = {n: contract_frame(spark, n, []) for n in ("pos_sales", "online_orders", "online_order_items")}
    d = {n: build_scd2(spark, n, [["2026-01-01", []]])[0] for n in ("products", "stores", "customers")}
    return nullable(facts.fact_sales(e["pos_sales"], e["online_orders"], e["online_order_items"], d["products"],
                                     d["stores"], d["customers"]).schema)


# ------------------------------------------------------------------------------------------ dimensions
@case
def scd2_steps(spark, p):
    """Apply daily snapshots one at a time, in the given order; the dimension after each step."""
    key = load_contract(p["dataset"]).key
    _, history = build_scd2(spark, p["dataset"], p["steps"])
    return [rows(d, key, "valid_from") for d in history]


@case
def scd2_rebuild(spark, p):
    """Build a dimension from many days at once (a backfill or full rebuild)."""
    contract = load_contract(p["dataset"])
    tracked = {"products": dimensions.PRODUCT_TRACKED, "stores": dimensions.STORE_TRACKED,
               "customers": dimensions.CUSTOMER_TRACKED}[p["dataset"]]
    sk = {"products": "product_sk", "stores": "store_sk", "customers": "customer_sk"}[p["dataset"]]
    current = build_scd2(spark, p["dataset"], p["before"])[0] if p.get("before") else None
    dim = dimensions.scd2_history(current, snapshots(spark, p["dataset"], p["snapshots"]), contract.key, tracked,
                                  sk_column=sk)
    return rows(dim, contract.key, "valid_from")


@case
def plain_dims(spark, p):
    return {
        "equipment": rows(dimensions.dim_equipment(snapshots(spark, "equipment", p["equipment"])), "device_id"),
        "campaigns": rows(dimensions.dim_campaign(snapshots(spark, "campaigns", p["campaigns"])), "campaign_id"),
        "weather": rows(dimensions.dim_weather(snapshots(spark, "weather", p["weather"])), "weather_id"),
    }


@case
def dim_date(spark, p):
    return rows(dimensions.dim_date(spark, date.fromisoformat(p["start"]), date.fromisoformat(p["end"])), "date")


# ------------------------------------------------------------------------------------------ facts
def _dims(spark, p):
    return {n: build_scd2(spark, n, p[n])[0] for n in ("products", "stores", "customers")}


@case
def facts_and_aggregates(spark, p):
    d = _dims(spark, p)
    sales = materialise(spark, facts.fact_sales(
        contract_frame(spark, "pos_sales", p["pos_sales"]), contract_frame(spark, "online_orders", p["online_orders"]),
        contract_frame(spark, "online_order_items", p["online_order_items"]), d["products"], d["stores"],
        d["customers"]))
    feedback = materialise(spark, facts.fact_feedback(
        contract_frame(spark, "customer_feedback", p["customer_feedback"]), d["customers"], d["stores"]))
    clicks = contract_frame(spark, "clickstream", p["clickstream"])
    sessions = materialise(spark, facts.fact_web_sessions(clicks))
    # the same events in another order and partitioning give the same visits and ids
    resessions = facts.fact_web_sessions(spark.createDataFrame(list(reversed(clicks.collect())), clicks.schema)
                                         .repartition(3))
    as_of = date.fromisoformat(p["as_of"])
    return {
        "dims": {n: rows(df, df.columns[1], "valid_from") for n, df in d.items()},
        "fact_sales": rows(sales, "sale_line_id"),
        "fact_feedback": rows(feedback, "feedback_id"),
        "fact_web_sessions": rows(sessions, "anonymous_id", "started_at"),
        "fact_web_sessions_again": rows(resessions, "anonymous_id", "started_at"),
        "fact_equipment_hourly": rows(facts.fact_equipment_hourly(
            contract_frame(spark, "equipment_metrics", p["equipment_metrics"])), "device_id", "hour_start"),
        "channel_performance": rows(aggregates.channel_performance(sales, sessions), "sale_date", "channel"),
        "customer_sales_daily": rows(aggregates.customer_sales_daily(sales), "sale_date", "customer_id", "store_id",
                                     "channel", "category"),
        "customer_profiles": rows(aggregates.customer_profiles(aggregates.customer_sales_daily(sales), feedback,
                                                               sessions, d["customers"], as_of), "customer_id"),
    }


@case
def latest_orders(spark, p):
    return rows(facts.latest_order_versions(contract_frame(spark, "online_orders", p["online_orders"]))
                .select("order_id", "status"), "order_id")


@case
def inventory(spark, p):
    """fact_inventory_daily before and after late updates arrive for an earlier day."""
    return [rows(facts.fact_inventory_daily(contract_frame(spark, "inventory_updates", batch)), "inventory_date",
                 "store_id", "product_id") for batch in p["runs"]]


@case
def campaign_effectiveness(spark, p):
    sales = frame(spark, fact_sales_schema(spark), p["fact_sales"])
    campaigns = dimensions.dim_campaign(snapshots(spark, "campaigns", p["campaigns"]))
    return rows(aggregates.campaign_effectiveness(sales, campaigns, date.fromisoformat(p["as_of"]),
                                                  baseline_days=p["baseline_days"]), "campaign_id")


@case
def customer_sales_daily(spark, p):
    sales = aggregates.customer_sales_daily(frame(spark, fact_sales_schema(spark), p["fact_sales"]))
    return {"rows": rows(sales, "sale_date", "customer_id", "store_id", "channel", "category"),
            "segments": rows(aggregates.customer_segments(sales, date.fromisoformat(p["as_of"])), "customer_id")}


@case
def customer_segments(spark, p):
    sales = frame(spark, fact_sales_schema(spark), p["fact_sales"])
    return rows(aggregates.customer_segments(aggregates.customer_sales_daily(sales), date.fromisoformat(p["as_of"])),
                "customer_id")


# ------------------------------------------------------------------------------------------ features
@case
def features_demand(spark, p):
    d = _dims(spark, p)
    weather = dimensions.dim_weather(snapshots(spark, "weather", p["weather"]))
    campaigns = dimensions.dim_campaign(snapshots(spark, "campaigns", p["campaigns"]))
    schema = fact_sales_schema(spark)
    start, end = date.fromisoformat(p["start"]), date.fromisoformat(p["end"])
    # it reads product_sales_daily, made here from the run's sale lines the way Gold makes it
    return [rows(features.features_demand(aggregates.product_sales_daily(frame(spark, schema, run)), d["products"],
                                          d["stores"], weather, campaigns, start, end),
                 "store_id", "product_id", "sale_date") for run in p["runs"]]


@case
def features_equipment(spark, p):
    hourly = frame(spark, nullable(facts.fact_equipment_hourly(contract_frame(spark, "equipment_metrics", [])).schema),
                   p["hourly"])
    equipment = dimensions.dim_equipment(snapshots(spark, "equipment", p["equipment"]))
    return rows(features.features_equipment(hourly, equipment, horizon_hours=p["horizon_hours"]), "device_id",
                "hour_start")


@case
def features_churn(spark, p):
    sales = frame(spark, fact_sales_schema(spark), p["fact_sales"])
    return rows(features.features_churn(aggregates.customer_sales_daily(sales),
                                        [date.fromisoformat(d) for d in p["observation_dates"]]),
                "obs_date", "customer_id")


@case
def features_interactions(spark, p):
    sales = frame(spark, fact_sales_schema(spark), p["fact_sales"])
    clicks = contract_frame(spark, "clickstream", p["clickstream"])
    return rows(features.features_interactions(sales, clicks, date.fromisoformat(p["as_of"])), "customer_id",
                "product_id")


@case
def interactions_fold(spark, p):
    """A day's snapshot built whole and folded onto the day before's (``lookback_days`` short enough to leave days)."""
    sales = frame(spark, fact_sales_schema(spark), p["fact_sales"])
    clicks = contract_frame(spark, "clickstream", p["clickstream"])
    day, n = date.fromisoformat(p["as_of"]), p["lookback_days"]
    previous = materialise(spark, features.features_interactions(sales, clicks, day - timedelta(days=1),
                                                                  lookback_days=n))
    order = ("customer_id", "product_id")
    return {"whole": rows(features.features_interactions(sales, clicks, day, lookback_days=n), *order),
            "folded": rows(features.features_interactions_fold(previous, sales, clicks, day, lookback_days=n), *order),
            "previous": rows(previous, *order)}


@case
def interactions_changes(spark, p):
    """A day's snapshot built on earlier inputs, brought up to date by its changes for the changed pairs (applied
    as a merge applies them), and the snapshot built whole on the new inputs."""
    schema = fact_sales_schema(spark)
    before_sales, sales = frame(spark, schema, p["fact_sales_before"]), frame(spark, schema, p["fact_sales"])
    before_clicks = contract_frame(spark, "clickstream", p["clickstream_before"])
    clicks = contract_frame(spark, "clickstream", p["clickstream"])
    day, order = date.fromisoformat(p["as_of"]), ("customer_id", "product_id")
    snapshot = materialise(spark, features.features_interactions(before_sales, before_clicks, day))
    pairs = None if p["pairs"] is None else spark.createDataFrame(p["pairs"], "customer_id string, product_id string")
    end = sales.agg(F.max("sale_date")).collect()[0][0]
    # the inputs narrowed to the columns gold_daily's delta reads (the whole build below has them all)
    narrow_sales = sales.select(*features.INTERACTION_SALE_COLUMNS)
    narrow_clicks = clicks.select(*features.INTERACTION_CLICK_COLUMNS)
    changes = rows(features.features_interactions_changes(snapshot, narrow_sales, narrow_clicks, pairs, day, end),
                   *order)
    merged = {(r["customer_id"], r["product_id"]): r for r in rows(snapshot, *order)}
    ops = []
    for change in changes:
        op, key = change.pop("_op"), (change["customer_id"], change["product_id"])
        ops.append([*key, op])
        if op == "delete":
            del merged[key]
        else:
            merged[key] = change
    return {"merged": [merged[k] for k in sorted(merged)], "ops": sorted(ops),
            "whole": rows(features.features_interactions(sales, clicks, day), *order)}


@case
def closed_horizon(spark, p):
    """The job's own builds of the label tables for a one-day window, inputs as global temporary views."""
    from spark_jobs import gold_daily  # the job module: imported only by the case that needs it

    sales = frame(spark, fact_sales_schema(spark), p["fact_sales"])
    sales.createOrReplaceGlobalTempView("fact_sales")
    aggregates.customer_sales_daily(sales).createOrReplaceGlobalTempView("customer_sales_daily")
    contract_frame(spark, "clickstream", []).createOrReplaceGlobalTempView("clickstream")
    hourly_schema = nullable(facts.fact_equipment_hourly(contract_frame(spark, "equipment_metrics", [])).schema)
    frame(spark, hourly_schema, p["hourly"]).createOrReplaceGlobalTempView("fact_equipment_hourly")
    dimensions.dim_equipment(snapshots(spark, "equipment", p["equipment"])).createOrReplaceGlobalTempView(
        "dim_equipment")
    day = date.fromisoformat(p["day"])
    # a window of more days when ``start`` is given
    run = gold_daily.Run(spark, date.fromisoformat(p.get("start", p["day"])), day, "global_temp", "global_temp",
                         Path("."), "unit")
    orders = {"features_churn": ("obs_date", "customer_id"),
              "features_interactions": ("as_of_date", "customer_id", "product_id"),
              "features_equipment": ("device_id", "hour_start"),
              "customer_segments": ("as_of_date", "customer_id")}
    out = {}
    for name in p.get("tables", ("features_churn", "features_interactions", "features_equipment")):
        spec, order = gold_daily.BY_NAME[name], orders[name]
        out[name] = {"rows": rows(spec.build(run), *order), "replaces": spec.replaces(run)}
    return out


# ------------------------------------------------------------------------------------------ incremental
@case
def changed_days(spark, p):
    """The UTC days of new rows: rows of a contract (``dataset``) or of a plain DDL ``schema``."""
    rows = contract_frame(spark, p["dataset"], p["rows"]) if "dataset" in p else frame(spark, p["schema"], p["rows"])
    return [d.isoformat() for d in incremental.changed_days(rows, p["time_column"])]


@case
def widen_window(spark, p):
    """Windows widened by changed days: ``[[start, end, [day, ...]], ...]`` -> the Widening fields."""
    out = []
    for start, end, days in p["windows"]:
        w = incremental.widen_window(date.fromisoformat(start), date.fromisoformat(end),
                                     [date.fromisoformat(d) for d in days])
        out.append({"start": w.start.isoformat(), "end": w.end.isoformat(),
                    **{k: [d.isoformat() for d in getattr(w, k)] for k in ("added", "late", "later")}})
    return out


def main() -> None:
    request = json.load(sys.stdin)
    spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", "1")
             .config("spark.ui.showConsoleProgress", "false")
             # tiny inputs: compiling and re-planning cost more than they save
             .config("spark.sql.adaptive.enabled", "false").config("spark.sql.codegen.wholeStage", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    out = {}
    for label, payload in request["cases"].items():
        started = time.monotonic()
        out[label] = CASES[payload["case"]](spark, payload)
        print(f"{label}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(json.dumps(out))
    spark.stop()


if __name__ == "__main__":
    main()
