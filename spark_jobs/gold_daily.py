"""gold_daily: build the Gold dimensions, facts, aggregates and ML features for a window of UTC days.

    headwater spark gold_daily -- --start YYYY-MM-DD --end YYYY-MM-DD [--tables a,b] [--full]
        [--run-id ID] [--source-namespace silver] [--target-namespace gold]

A thin main around the pure transforms of :mod:`spark_jobs.gold`: it reads Silver and the
master-data landing files, builds each selected table in lineage order (dimensions, facts,
aggregates, features) and writes it to Iceberg (format v2, created when absent).

- Dimensions are small: rebuilt from every landed snapshot and overwritten whole. SCD Type 2
  history is complete whatever the window, so a backfill joins to the right versions.
- Facts, aggregates and features are overwritten for the days of the window only (``as_of``
  tables: for the window's last day), so a rerun of one window gives identical contents and
  leaves other days alone. ``--full`` rebuilds every day found in Silver.

Quality gate (write-audit-publish): each built table is checked *before* it is written, by the
plain SQL assertions of ``sql/gold/<table>.yaml`` run against the candidate rows. The results
go to ``<target>.quality_results`` and a score to ``<target>.quality_scores``; a failing check
raises :class:`QualityGateError` naming the table and check, so the table keeps its previous
contents, the job exits non-zero and nothing downstream of it runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.functions import partitioning

from headwater import PROJECT_ROOT
from headwater.contracts import load_contract
from headwater.contracts.spark import spark_schema_ddl
from headwater.settings import load_settings
from spark_jobs.gold import aggregates, dimensions, facts, features

CHECKS_DIR = PROJECT_ROOT / "sql" / "gold"
#: dim_date is a fixed calendar: overwritten whole, it must not depend on the window
CALENDAR = (date(2020, 1, 1), date(2035, 12, 31))
#: history features_demand needs before the window (its longest lag or rolling window)
DEMAND_HISTORY_DAYS = 28
#: history of the churn features (purchases in the last 365 days) and look-ahead of their label
CHURN_HISTORY_DAYS = 365
CHURN_HORIZON_DAYS = features.CHURN_HORIZON_DAYS


class QualityGateError(RuntimeError):
    """A Gold table failed a quality check; the message names the table and the check."""


@dataclass
class Run:
    """What one invocation builds: the window, namespaces and the Spark session."""

    spark: SparkSession
    start: date
    end: date
    source: str
    target: str
    landing: Path
    run_id: str
    full: bool = False
    _cache: dict[str, DataFrame] = field(default_factory=dict)

    # -- reading ------------------------------------------------------------------------------
    def silver(self, name: str) -> DataFrame:
        """A whole Silver table of the source namespace."""
        return self.spark.table(f"{self.source}.{name}")

    def silver_days(self, name: str, time_column: str, before: int = 0, after: int = 0) -> DataFrame:
        """Silver rows whose UTC day of ``time_column`` is in the window (widened by ``before``/``after`` days)."""
        lo, hi = self.start - timedelta(days=before), self.end + timedelta(days=after)
        return self.silver(name).where(F.to_date(time_column).between(F.lit(lo), F.lit(hi)))

    def gold(self, name: str) -> DataFrame:
        """An upstream Gold table as written earlier in this run or by a previous one."""
        return self.spark.table(f"{self.target}.{name}")

    def landing_files(self, dataset: str) -> DataFrame:
        """Every landed snapshot of a master-data dataset, with its file date as ``snapshot_date``."""
        if dataset not in self._cache:
            contract = load_contract(dataset)
            pattern = str(self.landing / dataset / f"{dataset}_*.{contract.file_format}")
            reader = self.spark.read.schema(spark_schema_ddl(contract))
            df = reader.option("header", True).csv(pattern) if contract.file_format == "csv" else reader.json(pattern)
            # the file date is in the name, not in the rows (a full export per day)
            day = F.to_date(F.regexp_extract(F.col("_metadata.file_name"), r"_(\d{4}-\d{2}-\d{2})\.", 1))
            cols = [f.name for f in contract.fields]
            self._cache[dataset] = df.select(*cols, day.alias("snapshot_date"))
        return self._cache[dataset]

    # -- window predicates used to overwrite only what this run recomputed ---------------------
    def days(self, column: str) -> str | None:
        """Rows of the window by a date column (None on ``--full``: the whole table)."""
        return None if self.full else f"{column} between date'{self.start}' and date'{self.end}'"

    def hours(self, column: str) -> str | None:
        """Rows of the window by a timestamp column (None on ``--full``)."""
        end_next = self.end + timedelta(days=1)
        return None if self.full else (f"{column} >= timestamp'{self.start} 00:00:00' "
                                       f"and {column} < timestamp'{end_next} 00:00:00'")

    def as_of(self) -> str | None:
        """The snapshot rows of the window's last day in an ``as_of_date`` table (None on ``--full``)."""
        return None if self.full else f"as_of_date = date'{self.end}'"


@dataclass(frozen=True)
class GoldTable:
    """One Gold table: how to build it, how it is partitioned and which rows a run replaces."""

    name: str
    layer: str  # dimension, fact, aggregate, feature: the lineage order of a run
    build: Callable[[Run], DataFrame]
    #: SQL predicate of the rows a run replaces (None: the whole table)
    replaces: Callable[[Run], str | None] = lambda run: None
    partition: Callable[[], Sequence[Column]] = lambda: ()


def _scd2(dataset: str, key: str, tracked: Sequence[str], sk: str) -> Callable[[Run], DataFrame]:
    def build(run: Run) -> DataFrame:
        snaps = run.landing_files(dataset)
        return dimensions.scd2_history(None, snaps, key, tracked, sk_column=sk)
    return build


def product_sales_daily(fact_sales: DataFrame) -> DataFrame:
    """gold.product_sales_daily: revenue, units and margin per store, product and day, all channels.

    Grain: one row per sale_date, store_id and product_id. (``gold.sales_daily``, per store and day
    from in-store sales only, stays the smoke job of ``spark_jobs/sales_daily.py``.)
    """
    return (fact_sales.groupBy("sale_date", "store_id", "product_id")
            .agg(facts.money(F.sum("revenue")).alias("revenue"), F.sum("quantity").cast("bigint").alias("units"),
                 F.count(F.lit(1)).alias("lines"), F.count_distinct("sale_id").alias("orders"),
                 facts.money(F.sum("discount")).alias("discount"), facts.money(F.sum("margin")).alias("margin"),
                 F.min("category").alias("category")))


def _fact_sales(run: Run) -> DataFrame:
    orders = run.silver_days("online_orders", "placed_at")
    # items of an order share its placed day only through the order: join on the order ids of the window
    items = run.silver("online_order_items").join(orders.select("order_id"), "order_id", "left_semi")
    return facts.fact_sales(run.silver_days("pos_sales", "sold_at"), orders, items, run.gold("dim_product"),
                            run.gold("dim_store"), run.gold("dim_customer"))


def _sales_window(run: Run, before: int = 0, after: int = 0) -> DataFrame:
    lo, hi = run.start - timedelta(days=before), run.end + timedelta(days=after)
    return run.gold("fact_sales").where(F.col("sale_date").between(F.lit(lo), F.lit(hi)))


def _features_equipment(run: Run) -> DataFrame:
    # a day of history for the 24 h rolling statistics; rows outside the window are dropped after
    lo = datetime.combine(run.start - timedelta(days=1), datetime.min.time(), UTC)
    hi = datetime.combine(run.end + timedelta(days=1), datetime.min.time(), UTC)
    hourly = run.gold("fact_equipment_hourly").where(
        F.col("hour_start").between(F.lit(lo.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp"),
                                    F.lit(hi.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp")))
    out = features.features_equipment(hourly, run.gold("dim_equipment"))
    return out if run.full else out.where(F.expr(run.hours("hour_start")))


def _features_churn(run: Run) -> DataFrame:
    sales = _sales_window(run, before=CHURN_HISTORY_DAYS, after=CHURN_HORIZON_DAYS)
    days = [run.start + timedelta(days=i) for i in range((run.end - run.start).days + 1)]
    return features.features_churn(sales, days)


def _features_interactions(run: Run) -> DataFrame:
    clicks = run.silver_days("clickstream", "occurred_at", before=90)
    return features.features_interactions(_sales_window(run, before=90, after=7), clicks, run.end)


def _day(column: str) -> Callable[[], Sequence[Column]]:
    return lambda: (F.col(column),)


def _hour_days(column: str) -> Callable[[], Sequence[Column]]:
    return lambda: (partitioning.days(column),)


TABLES: tuple[GoldTable, ...] = (
    GoldTable("dim_date", "dimension", lambda r: dimensions.dim_date(r.spark, *CALENDAR)),
    GoldTable("dim_store", "dimension", _scd2("stores", "store_id", dimensions.STORE_TRACKED, "store_sk")),
    GoldTable("dim_product", "dimension", _scd2("products", "product_id", dimensions.PRODUCT_TRACKED, "product_sk")),
    GoldTable("dim_customer", "dimension",
              _scd2("customers", "customer_id", dimensions.CUSTOMER_TRACKED, "customer_sk")),
    GoldTable("dim_equipment", "dimension", lambda r: dimensions.dim_equipment(r.landing_files("equipment"))),
    GoldTable("dim_campaign", "dimension", lambda r: dimensions.dim_campaign(r.landing_files("campaigns"))),
    GoldTable("dim_weather", "dimension", lambda r: dimensions.dim_weather(r.landing_files("weather"))),
    GoldTable("fact_sales", "fact", _fact_sales, lambda r: r.days("sale_date"), _day("sale_date")),
    # late inventory updates (up to 48 h) are picked up by a window that reaches back over them
    GoldTable("fact_inventory_daily", "fact",
              lambda r: facts.fact_inventory_daily(r.silver_days("inventory_updates", "counted_at")),
              lambda r: r.days("inventory_date"), _day("inventory_date")),
    GoldTable("fact_feedback", "fact",
              lambda r: facts.fact_feedback(r.silver_days("customer_feedback", "reviewed_at"),
                                            r.gold("dim_customer"), r.gold("dim_store")),
              lambda r: r.days("review_date"), _day("review_date")),
    GoldTable("fact_equipment_hourly", "fact",
              lambda r: facts.fact_equipment_hourly(r.silver_days("equipment_metrics", "read_at")),
              lambda r: r.hours("hour_start"), _hour_days("hour_start")),
    # visits are cut at the window's edges: a visit across midnight UTC of a window edge splits in two
    GoldTable("fact_web_sessions", "fact",
              lambda r: facts.fact_web_sessions(r.silver_days("clickstream", "occurred_at")),
              lambda r: r.days("session_date"), _day("session_date")),
    GoldTable("product_sales_daily", "aggregate", lambda r: product_sales_daily(_sales_window(r)),
              lambda r: r.days("sale_date"), _day("sale_date")),
    GoldTable("channel_performance", "aggregate",
              lambda r: aggregates.channel_performance(
                  _sales_window(r), r.gold("fact_web_sessions").where(
                      F.col("session_date").between(F.lit(r.start), F.lit(r.end)))),
              lambda r: r.days("sale_date"), _day("sale_date")),
    GoldTable("campaign_effectiveness", "aggregate",
              lambda r: aggregates.campaign_effectiveness(
                  r.gold("fact_sales").where(F.col("sale_date") <= F.lit(r.end)), r.gold("dim_campaign"), r.end),
              lambda r: r.as_of(), _day("as_of_date")),
    GoldTable("customer_segments", "aggregate",
              lambda r: aggregates.customer_segments(_sales_window(r, before=aggregates.RFM_LOOKBACK_DAYS), r.end),
              lambda r: r.as_of(), _day("as_of_date")),
    GoldTable("customer_profiles", "aggregate",
              lambda r: aggregates.customer_profiles(
                  r.gold("fact_sales").where(F.col("sale_date") <= F.lit(r.end)),
                  r.gold("fact_feedback").where(F.col("review_date") <= F.lit(r.end)),
                  r.gold("fact_web_sessions").where(F.col("session_date") <= F.lit(r.end)),
                  r.gold("dim_customer"), r.end),
              lambda r: r.as_of(), _day("as_of_date")),
    GoldTable("features_demand", "feature",
              lambda r: features.features_demand(
                  _sales_window(r, before=DEMAND_HISTORY_DAYS), r.gold("dim_product"), r.gold("dim_store"),
                  r.gold("dim_weather"), r.gold("dim_campaign"), r.start, r.end),
              lambda r: r.days("sale_date"), _day("sale_date")),
    GoldTable("features_equipment", "feature", _features_equipment, lambda r: r.hours("hour_start"),
              _hour_days("hour_start")),
    GoldTable("features_churn", "feature", _features_churn, lambda r: r.days("obs_date"), _day("obs_date")),
    GoldTable("features_interactions", "feature", _features_interactions, lambda r: r.as_of(),
              _day("as_of_date")),
)
BY_NAME = {t.name: t for t in TABLES}


# -- quality gate ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    table: str
    check: str
    observed: float | None
    min: float | None
    max: float | None

    @property
    def passed(self) -> bool:
        # no observation (an empty input, a NULL freshness) is a failure, not a pass
        if self.observed is None:
            return False
        return ((self.min is None or self.observed >= self.min)
                and (self.max is None or self.observed <= self.max))

    def describe(self) -> str:
        return f"{self.table}.{self.check}: observed {self.observed}, expected [{self.min}, {self.max}]"


def load_checks(table: str, checks_dir: Path = CHECKS_DIR) -> list[dict]:
    """The checks declared in ``sql/gold/<table>.yaml`` (name, sql returning one number, min/max)."""
    path = checks_dir / f"{table}.yaml"
    if not path.exists():
        raise QualityGateError(f"{table}: no checks declared in {path}")
    spec = yaml.safe_load(path.read_text())
    if spec.get("table") != table:
        raise QualityGateError(f"{path}: declares table {spec.get('table')!r}, expected {table!r}")
    return spec["checks"]


def run_checks(run: Run, table: str, candidate_view: str) -> list[CheckResult]:
    """Run a table's SQL assertions on the candidate rows (a temp view) and the already written tables."""
    end_next = run.end + timedelta(days=1)
    params = {"candidate": candidate_view, "gold": run.target, "silver": run.source,
              "start": f"date'{run.start}'", "end": f"date'{run.end}'",
              "end_next": f"timestamp'{end_next} 00:00:00'"}
    results = []
    for check in load_checks(table):
        value = run.spark.sql(check["sql"].format(**params)).collect()[0][0]
        bounds = [None if check.get(k) is None else float(check[k]) for k in ("min", "max")]
        results.append(CheckResult(table, check["name"], None if value is None else float(value), *bounds))
    return results


def record_results(run: Run, results: list[CheckResult]) -> None:
    """Append the check rows and the table's score (share of checks passed) for this run."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(r.table, r.check, run.run_id, r.observed, r.min, r.max, r.passed, run.start, run.end, now)
            for r in results]
    schema = ("table_name string, check_name string, run_id string, observed double, min_expected double, "
              "max_expected double, passed boolean, window_start date, window_end date, checked_at timestamp")
    _append(run, "quality_results", run.spark.createDataFrame(rows, schema))
    passed = sum(r.passed for r in results)
    score = [(results[0].table, run.run_id, len(results), passed, round(passed / len(results), 4),
              run.start, run.end, now)]
    _append(run, "quality_scores", run.spark.createDataFrame(
        score, "table_name string, run_id string, checks int, passed int, score double, window_start date, "
               "window_end date, checked_at timestamp"))


def _append(run: Run, name: str, df: DataFrame) -> None:
    table = f"{run.target}.{name}"
    if run.spark.catalog.tableExists(table):
        df.writeTo(table).append()
    else:
        df.writeTo(table).using("iceberg").tableProperty("format-version", "2").create()


# -- writing -----------------------------------------------------------------------------------
def publish(run: Run, spec: GoldTable, df: DataFrame) -> None:
    """Create the table when absent, else replace the rows of the window (or everything)."""
    table = f"{run.target}.{spec.name}"
    if not run.spark.catalog.tableExists(table):
        writer = df.writeTo(table).using("iceberg").tableProperty("format-version", "2")
        parts = spec.partition()
        if parts:
            writer = writer.partitionedBy(*parts)
        writer.create()
        return
    predicate = spec.replaces(run)
    # partition-aligned predicates: Iceberg drops whole files of the window, no row-level deletes
    df.writeTo(table).overwrite(F.lit(True) if predicate is None else F.expr(predicate))


def build_table(run: Run, spec: GoldTable) -> int:
    """Build one table, audit it, publish it; return its candidate row count."""
    candidate = spec.build(run).persist()  # checked and written: computed once
    try:
        view = f"_candidate_{spec.name}"
        candidate.createOrReplaceTempView(view)
        t0 = time.monotonic()
        results = run_checks(run, spec.name, view)
        t1 = time.monotonic()
        record_results(run, results)
        print(f"  timing checks {t1 - t0:.1f}s record {time.monotonic() - t1:.1f}s", flush=True)
        failed = [r for r in results if not r.passed]
        for r in results:
            print(f"  check {'ok  ' if r.passed else 'FAIL'} {r.describe()}", flush=True)
        if failed:
            raise QualityGateError(f"quality gate failed for {run.target}.{spec.name} at check "
                                   f"{failed[0].check!r} (run {run.run_id}): "
                                   + "; ".join(r.describe() for r in failed))
        rows = candidate.count()
        t2 = time.monotonic()
        publish(run, spec, candidate)
        print(f"  timing publish {time.monotonic() - t2:.1f}s", flush=True)
        return rows
    finally:
        candidate.unpersist()


def first_source_day(run: Run) -> date:
    """The first day with sales in the source: where a ``--full`` rebuild starts."""
    first = run.silver("pos_sales").agg(F.min(F.to_date("sold_at"))).collect()[0][0]
    return min(first, run.start) if first else run.start


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The job's options (see the module docstring)."""
    p = argparse.ArgumentParser(prog="gold_daily", description=__doc__.splitlines()[0])
    p.add_argument("--start", type=date.fromisoformat, required=True, help="first UTC day of the window")
    p.add_argument("--end", type=date.fromisoformat, help="last UTC day of the window (default: --start)")
    p.add_argument("--tables", default="", help="comma-separated tables or layers (dimension, fact, aggregate, "
                   "feature); default: all, in lineage order")
    p.add_argument("--full", action="store_true", help="rebuild every day found in the source")
    p.add_argument("--run-id", default="", help="id of this run in the quality results (default: generated)")
    p.add_argument("--source-namespace", default="silver", help="namespace of the Silver inputs")
    p.add_argument("--target-namespace", default="gold", help="namespace of the Gold tables")
    # `headwater spark gold_daily -- --start ...` may hand the separator through
    args = p.parse_args([a for a in argv if a != "--"])
    args.end = args.end or args.start
    if args.end < args.start:
        p.error("--end is before --start")
    return args


def select_tables(names: str) -> list[GoldTable]:
    """The requested tables (names or layers) in lineage order."""
    if not names:
        return list(TABLES)
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    layers = {t.layer for t in TABLES}
    unknown = wanted - set(BY_NAME) - layers
    if unknown:
        raise SystemExit(f"unknown Gold tables {sorted(unknown)}: choose from {', '.join(BY_NAME)}")
    return [t for t in TABLES if t.name in wanted or t.layer in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chosen = select_tables(args.tables)
    spark = (SparkSession.builder.appName("headwater-gold-daily")
             .config("spark.sql.session.timeZone", "UTC")
             # Gold inputs are small per window: 200 shuffle partitions would mean 200 tasks (and files) per step
             .config("spark.sql.shuffle.partitions", "8").getOrCreate())
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # UTC days everywhere, whoever built the session
    spark.sparkContext.setLogLevel("WARN")  # the log keeps the checks and row counts readable
    run_id = args.run_id or f"gold-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    run = Run(spark, args.start, args.end, args.source_namespace, args.target_namespace,
              load_settings().landing_dir, run_id, args.full)
    if run.full:
        run.start = first_source_day(run)
    spark.sql(f"create namespace if not exists {run.target}")
    print(f"gold_daily run {run_id}: {run.source} -> {run.target}, days {run.start}..{run.end}"
          f"{' (full rebuild)' if run.full else ''}", flush=True)
    try:
        for spec in chosen:
            began = time.monotonic()
            rows = build_table(run, spec)
            print(f"{run.target}.{spec.name}: {rows} rows written ({time.monotonic() - began:.1f}s)", flush=True)
    except QualityGateError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        print(f"error: {exc}", flush=True)
        spark.stop()
        return 2
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
