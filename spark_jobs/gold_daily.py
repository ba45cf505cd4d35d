"""gold_daily: build the Gold dimensions, facts, aggregates and ML features for a window of UTC days.

    headwater spark gold_daily -- --start YYYY-MM-DD --end YYYY-MM-DD [--tables a,b] [--full | --no-catch-up]
        [--run-id ID] [--source-namespace silver] [--target-namespace gold]

A thin main around the pure transforms of :mod:`spark_jobs.gold`: it reads Silver and the
master-data landing files, builds each selected table in lineage order (dimensions, facts,
aggregates, features) and writes it to Iceberg (format v2, created when absent).

- Dimensions are small: rebuilt from every landed snapshot and overwritten whole. SCD Type 2
  history is complete whatever the window, so a backfill joins to the right versions.
- Facts, aggregates and features are overwritten for the days of the window only (``as_of``
  tables: a snapshot per day of the window, as the daily runs of those days leave them), so a rerun
  of one window gives identical contents and leaves other days alone. ``--full`` rebuilds every
  day found in Silver.

Incremental by default (catch-up): ``<target>.gold_source_snapshots`` records, per Gold table and
Silver source, the Iceberg snapshot the table was last built from. A run reads only the rows each
source gained since then (an incremental read of the appended files; see :func:`new_rows` for
the CDC tables and expired snapshots), and moves the window's start back to the earliest UTC day
they fall on, so days touched by late data are rebuilt like the window's own. The state is written
after every chosen table was published; ``--no-catch-up`` neither reads nor writes it. The state also
records each table's other inputs (the Gold tables and Silver tables it ``uses``, a fingerprint of its
landed master-data files), so an incremental run keeps a table whose inputs and days are those of its
last build instead of rebuilding it (:mod:`spark_jobs.gold.reuse`); ``--full`` and ``--no-catch-up``
build everything they are given.
A table that merges new rows instead of rebuilding days (``delta``) also records the snapshot the
run left it at: it merges only onto that snapshot, and rebuilds its days when a run wrote it without
recording (one that failed at a later table, or ran with ``--no-catch-up``).

Quality gate (write-audit-publish): each built table is checked *before* it is written, by the
plain SQL assertions of ``sql/gold/<table>.yaml`` run against the candidate rows. The results
go to ``<target>.quality_results`` and a score to ``<target>.quality_scores``; a failing check
raises :class:`QualityGateError` naming the table and check, so the table keeps its previous
contents, the job exits non-zero and nothing downstream of it runs.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.functions import partitioning
from pyspark.sql.utils import is_remote

from headwater import PROJECT_ROOT
from headwater.contracts import load_contract
from headwater.contracts.spark import spark_schema_ddl
from headwater.settings import load_settings
from spark_jobs.gold import aggregates, dimensions, facts, features, incremental, reuse

CHECKS_DIR = PROJECT_ROOT / "sql" / "gold"
#: dim_date is a fixed calendar: overwritten whole, it must not depend on the window
CALENDAR = (date(2020, 1, 1), date(2035, 12, 31))
#: history features_demand needs before the window (its longest lag or rolling window)
DEMAND_HISTORY_DAYS = 28
#: history of the churn features (purchases in the last 365 days) and look-ahead of their label
CHURN_HISTORY_DAYS = 365
CHURN_HORIZON_DAYS = features.CHURN_HORIZON_DAYS
#: the equipment label's horizon (24 h) in whole days: the day a run's last day closes is the one before it
EQUIPMENT_HORIZON_DAYS = -(-features.EQUIPMENT_HORIZON_HOURS // 24)


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
    #: Silver table -> the snapshot this run reads (the one its catch-up state records)
    pins: dict[str, int] = field(default_factory=dict)
    #: the days whose ``as_of`` snapshots in the table this run builds are current (see :func:`current_snapshots`;
    #: None: none, or not looked at)
    current: reuse.Window | None = None
    _cache: dict[str, DataFrame] = field(default_factory=dict)
    #: Silver table -> its snapshot log, read once per run (:func:`load_snapshot_logs`)
    _snapshot_logs: dict[str, SnapshotLog] = field(default_factory=dict)
    #: the landing folder's files, listed once per run (:func:`landed_files`)
    _landed: list[tuple[str, str, int, int]] | None = None

    # -- reading ------------------------------------------------------------------------------
    def silver(self, name: str) -> DataFrame:
        """A whole Silver table of the source namespace, at the run's pinned snapshot when it has one."""
        if name in self.pins:
            # rows committed while the run builds are left to the next run, which reads from this snapshot on
            return self.spark.sql(f"select * from {self.qualified(name)} version as of {self.pins[name]}")
        return self.spark.table(f"{self.source}.{name}")

    def qualified(self, name: str, metadata: str | None = None) -> str:
        """``catalog.source.name`` (``.metadata``: an Iceberg metadata table such as ``snapshots``)."""
        parts = [self.spark.catalog.currentCatalog(), self.source, name]
        return ".".join(parts + [metadata] if metadata else parts)

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
        """The snapshot rows of the window's days in an ``as_of_date`` table (None on ``--full``)."""
        return self.days("as_of_date")

    def each_day(self) -> list[Run]:
        """A one-day run for every day of the window, first to last."""
        return [replace(self, start=self.start + timedelta(days=i), end=self.start + timedelta(days=i))
                for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class GoldTable:
    """One Gold table: how to build it, how it is partitioned and which rows a run replaces."""

    name: str
    layer: str  # dimension, fact, aggregate, feature: the lineage order of a run
    build: Callable[[Run], DataFrame]
    #: SQL predicate of the rows a run replaces (None: the whole table)
    replaces: Callable[[Run], str | None] = lambda run: None
    partition: Callable[[], Sequence[Column]] = lambda: ()
    #: Silver tables read for the replaced days: their new rows widen the window (catch-up)
    reads: tuple[str, ...] = ()
    #: Gold tables read for the replaced days: the Silver sources behind them widen it too
    upstream: tuple[str, ...] = ()
    #: other inputs, which do not widen the window but whose changes make the table rebuild rather
    #: than be kept (see :mod:`spark_jobs.gold.reuse`): Gold tables (dimensions, the history an
    #: ``as_of`` table reads) and Silver tables read whole
    uses: tuple[str, ...] = ()
    #: inputs that are not tables: ``landing/<dataset>`` (its landed master-data files), ``calendar``
    masters: tuple[str, ...] = ()
    #: rows to merge instead of rebuilding the window's days, from the rows each of ``reads`` gained
    #: since the table's last build (None: none): the table's columns and ``_op``: ``insert`` a new row
    #: (its key must be new: a key already there is the duplicate a rebuild would write twice, which
    #: the grain check then reports), ``upsert`` or ``delete`` the row of its key. See
    #: :func:`merge_reason` for when.
    delta: Callable[[Run, Mapping[str, DataFrame | None]], DataFrame] | None = None
    #: the columns that identify a row, for ``delta``
    key: tuple[str, ...] = ()
    #: the date column a merge's rows are dated by: it touches the window's days only
    day_column: str = ""
    #: sources whose new rows ``delta`` inserts as new rows: it needs exactly those (see :func:`new_rows_of`)
    inserts: tuple[str, ...] = ()
    #: the Silver tables an ``as_of`` table's snapshots are made of: for folding a day onto the snapshot of the
    #: day before while that one is current (:func:`current_snapshots`), and the sources of its ``delta``
    folds: tuple[str, ...] = ()
    #: the days a merge of ``delta`` touches (None: the window's days)
    merge_days: Callable[[Run], Sequence[date]] | None = None
    #: a merge is audited on the rows it writes (and the rows whose key an insert repeats), not on the window's
    #: days as it leaves them: for a table whose days are large and whose checks (but those marked
    #: ``whole_window``) judge rows one by one
    audits_changes: bool = False
    #: Iceberg table properties set when the table is created
    properties: tuple[tuple[str, str], ...] = ()

    def delta_sources(self) -> tuple[str, ...]:
        """The Silver tables whose new rows ``delta`` takes: those the table reads, else those its snapshots fold."""
        return self.reads or self.folds


def _scd2(dataset: str, key: str, tracked: Sequence[str], sk: str) -> Callable[[Run], DataFrame]:
    def build(run: Run) -> DataFrame:
        snaps = run.landing_files(dataset)
        return dimensions.scd2_history(None, snaps, key, tracked, sk_column=sk)
    return build


def _fact_sales(run: Run) -> DataFrame:
    orders = run.silver_days("online_orders", "placed_at")
    # items of an order share its placed day only through the order: join on the order ids of the window
    items = run.silver("online_order_items").join(orders.select("order_id"), "order_id", "left_semi")
    return facts.fact_sales(run.silver_days("pos_sales", "sold_at"), orders, items, run.gold("dim_product"),
                            run.gold("dim_store"), run.gold("dim_customer"))


def _fact_sales_delta(run: Run, new: Mapping[str, DataFrame | None]) -> DataFrame:
    """fact_sales rows to merge: the lines of the new till rows (inserts), every line of each online order
    that changed (upserts), and the lines such an order no longer has, or all if no longer delivered (deletes)."""
    def rows(source: str) -> DataFrame:
        df = new.get(source)
        return run.silver(source).where(F.lit(False)) if df is None else df

    changed = rows("online_orders").select("order_id").unionByName(
        rows("online_order_items").select("order_id")).distinct()
    # every version and line of a changed order, as of the run's snapshot: its lines are rebuilt whole
    orders = run.silver("online_orders").join(changed, "order_id", "left_semi")
    items = run.silver("online_order_items").join(changed, "order_id", "left_semi")
    in_window = F.col("sale_date").between(F.lit(run.start), F.lit(run.end))
    lines = facts.fact_sales(rows("pos_sales"), orders, items, run.gold("dim_product"), run.gold("dim_store"),
                             run.gold("dim_customer")).where(in_window)
    op = F.when(F.col("channel") == facts.STORE_CHANNEL, "insert").otherwise("upsert")
    gone = (run.gold("fact_sales").where(in_window & (F.col("channel") != facts.STORE_CHANNEL))
            .join(changed.withColumnRenamed("order_id", "sale_id"), "sale_id", "left_semi")
            .join(lines.select("sale_line_id"), "sale_line_id", "left_anti"))
    return lines.withColumn("_op", op).unionByName(gone.withColumn("_op", F.lit("delete")))


def _sales_window(run: Run, before: int = 0, after: int = 0, table: str = "fact_sales") -> DataFrame:
    """Rows of a Gold table dated by ``sale_date`` in the window, widened by ``before``/``after`` days."""
    lo, hi = run.start - timedelta(days=before), run.end + timedelta(days=after)
    return run.gold(table).where(F.col("sale_date").between(F.lit(lo), F.lit(hi)))


def _features_equipment(run: Run) -> DataFrame:
    # a day of history for the 24 h rolling statistics, and the label's horizon after the window's
    # last hour (a day with an hour to spare); rows outside the window are dropped after
    lo = datetime.combine(run.start - timedelta(days=1), datetime.min.time(), UTC)
    hi = datetime.combine(run.end + timedelta(days=1 + EQUIPMENT_HORIZON_DAYS), datetime.min.time(), UTC)
    hourly = run.gold("fact_equipment_hourly").where(
        F.col("hour_start").between(F.lit(lo.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp"),
                                    F.lit(hi.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp")))
    out = features.features_equipment(hourly, run.gold("dim_equipment"))
    return out if run.full else out.where(F.expr(run.hours("hour_start")))


def _closed_day(run: Run, horizon_days: int) -> date | None:
    """The observation day whose ``horizon_days`` label horizon closes on the window's last day, if outside it
    (never on a full rebuild, which builds every day with all the data)."""
    closed = run.end - timedelta(days=horizon_days)
    return None if run.full or closed >= run.start else closed


def _with_closed_horizon(build: Callable[[Run], DataFrame], horizon_days: int) -> Callable[[Run], DataFrame]:
    """``build`` for the window, plus the observation day whose label horizon closes on the window's last day.

    A feature table's label looks ``horizon_days`` ahead, so the day a run observes gets a NULL
    label; without this, a daily schedule would leave every label NULL. That day is built as a run
    of its own window would build it (its own input range), so rows never depend on which run made them.
    """
    def both(run: Run) -> DataFrame:
        closed = _closed_day(run, horizon_days)
        out = build(run)
        return out if closed is None else out.unionByName(build(replace(run, start=closed, end=closed)))
    return both


def _replaces_with_closed(replaces: Callable[[Run], str | None], day_rows: Callable[[Run], str | None],
                          horizon_days: int) -> Callable[[Run], str | None]:
    """``replaces`` widened to the day :func:`_with_closed_horizon` adds: ``day_rows`` of a one-day run of it."""
    def predicate(run: Run) -> str | None:
        rows, closed = replaces(run), _closed_day(run, horizon_days)
        if rows is None or closed is None:
            return rows
        return f"({rows}) or ({day_rows(replace(run, start=closed, end=closed))})"
    return predicate


def _equipment_hours(run: Run) -> str | None:
    return run.hours("hour_start")


def _churn_days(run: Run) -> str | None:
    return run.days("obs_date")


def _churn_day(run: Run) -> str:
    """The rows of a one-day run's observation day (a plain equality, as the partition reads best)."""
    return f"obs_date = date'{run.start}'"


def _each_day(build_day: Callable[[Run], DataFrame]) -> Callable[[Run], DataFrame]:
    """An ``as_of`` table's build for every day of the window: the snapshot each day's own run builds.

    A daily schedule leaves one snapshot per day, so a wider window (catch-up over late data, a
    backfill, ``--full``) rebuilds each of its days the same way, never only the last one.
    """
    def build(run: Run) -> DataFrame:
        return functools.reduce(DataFrame.unionByName, [build_day(day) for day in run.each_day()])
    return build


def _features_churn(run: Run) -> DataFrame:
    """The window's observation days and the one whose label horizon its last day closes (see
    :func:`_with_closed_horizon`), in one pass over the history: they share all but its first 30 days.

    The label's horizon is judged against the last day of that shared input, as a wider window (a full
    rebuild) judges it, not against the closed day's own range: they differ only when the window's
    last day has no sales but a later day does (a backfill), where the shared input knows the label.
    """
    days = _observed_days(run, CHURN_HORIZON_DAYS)
    sales = _sales_window(replace(run, start=days[0]), before=CHURN_HISTORY_DAYS, after=CHURN_HORIZON_DAYS,
                          table="customer_sales_daily")
    return features.features_churn(sales, days)


def _observed_days(run: Run, horizon_days: int) -> list[date]:
    """The days a label table's build writes, first to last: the one whose ``horizon_days`` label horizon the
    window's last day closes (see :func:`_with_closed_horizon`), then the window's."""
    closed = _closed_day(run, horizon_days)
    return ([] if closed is None else [closed]) + [day.start for day in run.each_day()]


def _interaction_days(run: Run) -> list[date]:
    """The as-of days a features_interactions build writes (:func:`_observed_days`)."""
    return _observed_days(run, features.INTERACTIONS_HORIZON_DAYS)


def _changed_orders(run: Run, new: Mapping[str, DataFrame | None]) -> DataFrame | None:
    """Order id and customer of every version of each online order the new mirror rows changed (None: none)."""
    changed = [new[s].select("order_id") for s in ("online_orders", "online_order_items") if new.get(s) is not None]
    if not changed:
        return None
    orders = functools.reduce(DataFrame.unionByName, changed).distinct()
    return run.silver("online_orders").join(orders, "order_id", "left_semi").select("order_id", "customer_id")


def _changed_pairs(run: Run, new: Mapping[str, DataFrame | None]) -> DataFrame:
    """The customer x product pairs whose sale lines or clicks the new Silver rows may change: the pairs of new till
    lines and clicks, and every pair of each online order that changed (customer of any version x its lines)."""
    parts = [new[s].select(*features.PAIR) for s in ("pos_sales", "clickstream") if new.get(s) is not None]
    orders = _changed_orders(run, new)
    if orders is not None:
        products = run.silver("online_order_items").join(orders, "order_id", "left_semi")
        parts.append(orders.join(products.select("order_id", "product_id"), "order_id").select(*features.PAIR))
    if not parts:
        return run.spark.createDataFrame([], "customer_id string, product_id string")
    pairs = functools.reduce(DataFrame.unionByName, parts)
    return pairs.where(F.col("customer_id").isNotNull() & F.col("product_id").isNotNull()).distinct()


def _changed_customers(run: Run, new: Mapping[str, DataFrame | None]) -> DataFrame:
    """The customers whose sales, reviews or visits the new Silver rows may change: those of new till lines and
    reviews, of every version of each changed online order, and of every click in the window of each visitor
    with new clicks (a click without a customer can still join, split or extend a visit that has one)."""
    parts = [new[s].select("customer_id") for s in ("pos_sales", "customer_feedback") if new.get(s) is not None]
    orders = _changed_orders(run, new)
    if orders is not None:
        parts.append(orders.select("customer_id"))
    if new.get("clickstream") is not None:
        visitors = new["clickstream"].select("anonymous_id").distinct()
        parts.append(run.silver_days("clickstream", "occurred_at").join(visitors, "anonymous_id", "left_semi")
                     .select("customer_id"))
    if not parts:
        return run.spark.createDataFrame([], "customer_id string")
    return functools.reduce(DataFrame.unionByName, parts).where(F.col("customer_id").isNotNull()).distinct()


def _customer_profiles(run: Run, customers: DataFrame | None = None) -> DataFrame:
    """A one-day run's customer_profiles snapshot, of ``customers`` only when given (None: every customer)."""
    def of(df: DataFrame) -> DataFrame:
        return df if customers is None else df.join(customers, "customer_id", "left_semi")

    until = F.lit(run.end)
    sales = of(run.gold("customer_sales_daily").where(F.col("sale_date") <= until))
    if customers is not None:
        # the profile reads its sales three times (totals, favourite category, favourite store): the few
        # customers' rows once, not three scans of every customer's history
        sales = sales.localCheckpoint()
    return aggregates.customer_profiles(
        sales,
        of(run.gold("fact_feedback").where(F.col("review_date") <= until)),
        of(run.gold("fact_web_sessions").where(F.col("session_date") <= until)), of(run.gold("dim_customer")),
        run.end)


def _customer_profiles_delta(run: Run, new: Mapping[str, DataFrame | None]) -> DataFrame:
    """customer_profiles rows to merge: each snapshot of the window rebuilt for the customers whose sales, reviews
    or visits changed (:func:`_changed_customers`); a profile depends on its own customer's rows alone, and every
    current customer has one, so nothing is deleted."""
    customers = _changed_customers(run, new).localCheckpoint()
    rows = _each_day(functools.partial(_customer_profiles, customers=customers))(run)
    return rows.withColumn("_op", F.lit("upsert"))


def _features_interactions_delta(run: Run, new: Mapping[str, DataFrame | None]) -> DataFrame:
    """features_interactions rows to merge: each snapshot a build would write, brought up to date for the pairs whose
    lines or clicks changed (:func:`features.features_interactions_changes`), or whole when whether its labels
    are known changed (the last sale day crossed its horizon)."""
    days = _interaction_days(run)
    lookback, horizon = features.INTERACTIONS_LOOKBACK_DAYS, features.INTERACTIONS_HORIZON_DAYS
    pairs = _changed_pairs(run, new).localCheckpoint()
    lo, hi = days[0] - timedelta(days=lookback), days[-1] + timedelta(days=horizon)
    # only the columns the features read: the lookback is every sale line of 90 days, and the checkpoints below
    # would otherwise read and keep all of their columns
    all_sales = (run.gold("fact_sales").select(*features.INTERACTION_SALE_COLUMNS)
                 .where(F.col("sale_date").between(F.lit(lo), F.lit(hi))))
    all_clicks = (run.silver("clickstream").select(*features.INTERACTION_CLICK_COLUMNS)
                  .where(F.to_date("occurred_at").between(F.lit(lo), F.lit(days[-1]))))
    # the changed pairs' lines and clicks are few: read once for every day
    sales = all_sales.join(pairs, list(features.PAIR), "left_semi").localCheckpoint()
    clicks = all_clicks.join(pairs, list(features.PAIR), "left_semi").localCheckpoint()
    table = run.gold("features_interactions")
    held = _held_labels(table, "as_of_date", days, "label_purchased_next_7d")
    out = []
    for day in days:
        end = (all_sales.where(F.col("sale_date").between(F.lit(day - timedelta(days=lookback)),
                                                          F.lit(day + timedelta(days=horizon))))
               .agg(F.max("sale_date")).collect()[0][0])
        known = end is not None and day + timedelta(days=horizon) <= end
        snapshot = table.where(F.col("as_of_date") == F.lit(day))
        if held.get(day) is None or held[day] == known:
            out.append(features.features_interactions_changes(snapshot, sales, clicks, pairs, day, end))
        else:
            print(f"  {day}: its labels {'became' if known else 'are no longer'} known: every pair is rebuilt",
                  flush=True)
            out.append(features.features_interactions_changes(snapshot, all_sales, all_clicks, None, day, end))
    return functools.reduce(DataFrame.unionByName, out)


def _held_labels(table: DataFrame, day_column: str, days: Sequence[date], label: str) -> dict[date, bool | None]:
    """Per day of ``days``, whether the snapshot the table holds of it has its labels known (None: it has no rows)."""
    held = (table.where(F.col(day_column).isin(days)).groupBy(day_column)
            .agg(F.count(label).alias("labelled")).collect())
    return {r[day_column]: r.labelled > 0 for r in held}


def _features_interactions(run: Run) -> DataFrame:
    """A one-day run's snapshot: folded onto the day before's when that one is current, else from the lookback."""
    clicks = run.silver_days("clickstream", "occurred_at", before=features.INTERACTIONS_LOOKBACK_DAYS)
    sales = _sales_window(run, before=features.INTERACTIONS_LOOKBACK_DAYS, after=features.INTERACTIONS_HORIZON_DAYS)
    before = run.end - timedelta(days=1)
    if run.current is not None and run.current.start <= before <= run.current.end:
        previous = run.gold("features_interactions").where(F.col("as_of_date") == F.lit(before))
        return features.features_interactions_fold(previous, sales, clicks, run.end)
    return features.features_interactions(sales, clicks, run.end)


#: the Silver tables fact_sales reads: till lines, and online orders with their lines (CDC mirrors)
SALES_SOURCES = ("pos_sales", "online_orders", "online_order_items")


def _day(column: str) -> Callable[[], Sequence[Column]]:
    return lambda: (F.col(column),)


def _hour_days(column: str) -> Callable[[], Sequence[Column]]:
    return lambda: (partitioning.days(column),)


TABLES: tuple[GoldTable, ...] = (
    GoldTable("dim_date", "dimension", lambda r: dimensions.dim_date(r.spark, *CALENDAR), masters=("calendar",)),
    GoldTable("dim_store", "dimension", _scd2("stores", "store_id", dimensions.STORE_TRACKED, "store_sk"),
              masters=("landing/stores",)),
    GoldTable("dim_product", "dimension", _scd2("products", "product_id", dimensions.PRODUCT_TRACKED, "product_sk"),
              masters=("landing/products",)),
    GoldTable("dim_customer", "dimension",
              _scd2("customers", "customer_id", dimensions.CUSTOMER_TRACKED, "customer_sk"),
              masters=("landing/customers",)),
    GoldTable("dim_equipment", "dimension", lambda r: dimensions.dim_equipment(r.landing_files("equipment")),
              masters=("landing/equipment",)),
    GoldTable("dim_campaign", "dimension", lambda r: dimensions.dim_campaign(r.landing_files("campaigns")),
              masters=("landing/campaigns",)),
    GoldTable("dim_weather", "dimension", lambda r: dimensions.dim_weather(r.landing_files("weather")),
              masters=("landing/weather",)),
    # new till lines and changed orders are merged into their days, not the days rebuilt (see merge_reason)
    GoldTable("fact_sales", "fact", _fact_sales, lambda r: r.days("sale_date"), _day("sale_date"),
              reads=SALES_SOURCES, uses=("dim_product", "dim_store", "dim_customer"), delta=_fact_sales_delta,
              key=("sale_line_id",), day_column="sale_date", inserts=("pos_sales",), audits_changes=True),
    # late inventory updates (up to 48 h) are picked up by catch-up: the window reaches back over their days
    GoldTable("fact_inventory_daily", "fact",
              lambda r: facts.fact_inventory_daily(r.silver_days("inventory_updates", "counted_at")),
              lambda r: r.days("inventory_date"), _day("inventory_date"), reads=("inventory_updates",)),
    GoldTable("fact_feedback", "fact",
              lambda r: facts.fact_feedback(r.silver_days("customer_feedback", "reviewed_at"),
                                            r.gold("dim_customer"), r.gold("dim_store")),
              lambda r: r.days("review_date"), _day("review_date"), reads=("customer_feedback",),
              uses=("dim_customer", "dim_store")),
    GoldTable("fact_equipment_hourly", "fact",
              lambda r: facts.fact_equipment_hourly(r.silver_days("equipment_metrics", "read_at")),
              lambda r: r.hours("hour_start"), _hour_days("hour_start"), reads=("equipment_metrics",)),
    # visits are cut at the window's edges: a visit across midnight UTC of a window edge splits in two
    GoldTable("fact_web_sessions", "fact",
              lambda r: facts.fact_web_sessions(r.silver_days("clickstream", "occurred_at")),
              lambda r: r.days("session_date"), _day("session_date"), reads=("clickstream",)),
    GoldTable("product_sales_daily", "aggregate", lambda r: aggregates.product_sales_daily(_sales_window(r)),
              lambda r: r.days("sale_date"), _day("sale_date"), upstream=("fact_sales",)),
    GoldTable("channel_performance", "aggregate",
              lambda r: aggregates.channel_performance(
                  _sales_window(r), r.gold("fact_web_sessions").where(
                      F.col("session_date").between(F.lit(r.start), F.lit(r.end)))),
              lambda r: r.days("sale_date"), _day("sale_date"), upstream=("fact_sales", "fact_web_sessions")),
    # the customer tables below read this per-day partial, not every sale line of their history
    GoldTable("customer_sales_daily", "aggregate", lambda r: aggregates.customer_sales_daily(_sales_window(r)),
              lambda r: r.days("sale_date"), _day("sale_date"), upstream=("fact_sales",)),
    # as_of tables: a snapshot per day of the window, each rebuilt from all history up to its day
    GoldTable("campaign_effectiveness", "aggregate",
              _each_day(lambda r: aggregates.campaign_effectiveness(
                  r.gold("fact_sales").where(F.col("sale_date") <= F.lit(r.end)), r.gold("dim_campaign"), r.end)),
              lambda r: r.as_of(), _day("as_of_date"), uses=("fact_sales", "dim_campaign")),
    GoldTable("customer_segments", "aggregate",
              _each_day(lambda r: aggregates.customer_segments(
                  _sales_window(r, before=aggregates.RFM_LOOKBACK_DAYS, table="customer_sales_daily"), r.end)),
              lambda r: r.as_of(), _day("as_of_date"), uses=("customer_sales_daily",)),
    GoldTable("customer_profiles", "aggregate", _each_day(_customer_profiles), lambda r: r.as_of(), _day("as_of_date"),
              uses=("customer_sales_daily", "fact_feedback", "fact_web_sessions", "dim_customer"),
              # while the days are current, the profiles of the customers whose rows changed are merged in
              folds=(*SALES_SOURCES, "customer_feedback", "clickstream"), delta=_customer_profiles_delta,
              key=("as_of_date", "customer_id"), day_column="as_of_date", audits_changes=True,
              properties=(("write.merge.mode", "merge-on-read"),)),
    GoldTable("features_demand", "feature",
              lambda r: features.features_demand(
                  _sales_window(r, before=DEMAND_HISTORY_DAYS, table="product_sales_daily"), r.gold("dim_product"),
                  r.gold("dim_store"), r.gold("dim_weather"), r.gold("dim_campaign"), r.start, r.end),
              lambda r: r.days("sale_date"), _day("sale_date"), upstream=("product_sales_daily",),
              uses=("dim_product", "dim_store", "dim_weather", "dim_campaign")),
    # each run also rebuilds the observation day whose label horizon its last day closes
    GoldTable("features_equipment", "feature", _with_closed_horizon(_features_equipment, EQUIPMENT_HORIZON_DAYS),
              _replaces_with_closed(_equipment_hours, _equipment_hours, EQUIPMENT_HORIZON_DAYS),
              _hour_days("hour_start"), upstream=("fact_equipment_hourly",), uses=("dim_equipment",)),
    GoldTable("features_churn", "feature", _features_churn,
              _replaces_with_closed(_churn_days, _churn_day, CHURN_HORIZON_DAYS),
              _day("obs_date"), upstream=("customer_sales_daily",)),
    GoldTable("features_interactions", "feature",
              _with_closed_horizon(_each_day(_features_interactions), features.INTERACTIONS_HORIZON_DAYS),
              _replaces_with_closed(Run.as_of, Run.as_of, features.INTERACTIONS_HORIZON_DAYS),
              _day("as_of_date"), uses=("fact_sales", "clickstream"),
              # its rows are made of sale lines and clicks alone: a new dimension version changes none of them
              folds=(*SALES_SOURCES, "clickstream"),
              # while the day is current, the rows of the pairs whose lines or clicks changed are merged in: a
              # few thousand of its millions (merge-on-read: the merge writes those, not the days' files again)
              delta=_features_interactions_delta, key=("as_of_date", *features.PAIR), day_column="as_of_date",
              merge_days=_interaction_days, audits_changes=True,
              properties=(("write.merge.mode", "merge-on-read"),)),
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


def run_checks(run: Run, table: str, candidate_view: str, changes_only: bool = False) -> list[CheckResult]:
    """Run a table's SQL assertions on the candidate rows (a temp view) and the already written tables.

    ``changes_only``: the candidate rows are the rows a merge writes, not the window's days: checks marked
    ``whole_window`` (a row count band) do not apply and are left out.

    The assertions run as the scalar subqueries of one statement: Spark plans them together, runs them
    side by side and merges those that aggregate the same rows into one scan, where a statement per
    check would cost a job each. A check whose query returns no row observes NULL, which fails it.
    """
    end_next = run.end + timedelta(days=1)
    params = {"candidate": candidate_view, "gold": run.target, "silver": run.source,
              "start": f"date'{run.start}'", "end": f"date'{run.end}'",
              "end_next": f"timestamp'{end_next} 00:00:00'"}
    checks = [c for c in load_checks(table) if not (changes_only and c.get("whole_window"))]
    statement = "select " + ", ".join(f"({c['sql'].format(**params)}) as c{i}" for i, c in enumerate(checks))
    values = run.spark.sql(statement).collect()[0]
    results = []
    for check, value in zip(checks, values, strict=True):
        bounds = [None if check.get(k) is None else float(check[k]) for k in ("min", "max")]
        results.append(CheckResult(table, check["name"], None if value is None else float(value), *bounds))
    return results


def record_results(run: Run, results: Sequence[CheckResult]) -> None:
    """Append the check rows and each table's score (share of its checks passed) for this run.

    Called once per run with every table's results (two commits, not two per table).
    """
    if not results:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(r.table, r.check, run.run_id, r.observed, r.min, r.max, r.passed, run.start, run.end, now)
            for r in results]
    schema = ("table_name string, check_name string, run_id string, observed double, min_expected double, "
              "max_expected double, passed boolean, window_start date, window_end date, checked_at timestamp")
    _append(run, "quality_results", run.spark.createDataFrame(rows, schema))
    by_table: dict[str, list[CheckResult]] = {}
    for r in results:
        by_table.setdefault(r.table, []).append(r)
    scores = []
    for table, checks in by_table.items():
        passed = sum(r.passed for r in checks)
        scores.append((table, run.run_id, len(checks), passed, round(passed / len(checks), 4), run.start, run.end,
                       now))
    _append(run, "quality_scores", run.spark.createDataFrame(
        scores, "table_name string, run_id string, checks int, passed int, score double, window_start date, "
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
        for key, value in spec.properties:
            writer = writer.tableProperty(key, value)
        parts = spec.partition()
        if parts:
            writer = writer.partitionedBy(*parts)
        writer.create()
        return
    predicate = spec.replaces(run)
    # partition-aligned predicates: Iceberg drops whole files of the window, no row-level deletes
    df.writeTo(table).overwrite(F.lit(True) if predicate is None else F.expr(predicate))


def merge_bound(run: Run, spec: GoldTable, column: str) -> str:
    """SQL predicate on ``column`` (the table's ``day_column``, qualified as needed) of the days a merge touches."""
    if spec.merge_days is None:
        return f"{column} between date'{run.start}' and date'{run.end}'"
    days = ", ".join(f"date'{d}'" for d in spec.merge_days(run))
    return f"{column} in ({days})"


def merge(run: Run, spec: GoldTable, rows: DataFrame, ops: Mapping[str, int]) -> None:
    """Merge delta ``rows`` (see :attr:`GoldTable.delta`) into the days it touches of the table, in one commit.

    ``ops``: how many rows of each ``_op`` there are. Inserts alone are appended: the checks have found
    their keys new, so that is the merge's insert clause without reading the days to match them.
    """
    if not ops:
        return
    if set(ops) == {"insert"}:
        print("  new rows only: appended", flush=True)
        rows.drop("_op").writeTo(f"{run.target}.{spec.name}").append()
        return
    view = f"_merge_{spec.name}"
    rows.createOrReplaceTempView(view)
    on = " and ".join(f"t.{k} = s.{k}" for k in spec.key)
    # the day bound prunes the files the merge reads to its days; an insert whose key is there already
    # is left out, but the checks (merged_window) have reported it before
    run.spark.sql(f"merge into {run.target}.{spec.name} t using {view} s "
                  f"on {on} and {merge_bound(run, spec, f't.{spec.day_column}')} "
                  "when matched and s._op = 'delete' then delete "
                  "when matched and s._op = 'upsert' then update set * "
                  "when not matched and s._op <> 'delete' then insert *")


def merged_window(run: Run, spec: GoldTable, rows: DataFrame) -> DataFrame:
    """The days of the table a merge of delta ``rows`` touches as it leaves them: what its checks audit
    (inserts are added, so an insert whose key is there already shows as a duplicate). A table that
    :attr:`~GoldTable.audits_changes` is audited on the rows the merge writes instead, with the rows of the
    days whose key an insert repeats."""
    days = F.expr(merge_bound(run, spec, spec.day_column))
    if spec.audits_changes:
        written = rows.where(F.col("_op") != "delete").drop("_op")
        # an insert whose key the days hold already: that row joins the audit, so the grain check counts the
        # pair; found on the key column alone (the day's other columns are read only when there is one)
        inserted = F.broadcast(rows.where(F.col("_op") == "insert").select(*spec.key))
        held = run.gold(spec.name).where(days)
        if held.select(*spec.key).join(inserted, list(spec.key), "left_semi").isEmpty():
            return written
        return written.unionByName(held.join(inserted, list(spec.key), "left_semi"))
    replaced = rows.where(F.col("_op") != "insert").select(*spec.key)
    kept = run.gold(spec.name).where(days).join(replaced, list(spec.key), "left_anti")
    return kept.unionByName(rows.where(F.col("_op") != "delete").drop("_op"))


def build_table(run: Run, spec: GoldTable, results: list[CheckResult],
                new: Mapping[str, DataFrame | None] | None = None) -> int:
    """Build one table, audit it, publish it; return its row count. Its check results are added to ``results``.

    ``new``: the rows each source gained since the table's last build: merge the table's ``delta`` of
    them into the window's days (the count is of the rows merged in) instead of rebuilding those days.
    """
    began = time.monotonic()
    # counted, checked and written: computed once (a delta is materialised whole: a MERGE cannot plan
    # a source that still reads a Silver table through a view)
    candidate = spec.build(run).persist() if new is None else spec.delta(run, new).localCheckpoint()
    audited: DataFrame | None = None  # the days a merge leaves, kept while the checks read them
    ops: dict[str, int] = {}  # a merge's rows per _op
    try:
        view = f"_candidate_{spec.name}"
        if new is None:
            candidate.createOrReplaceTempView(view)
            rows = candidate.count()
        else:
            audited = merged_window(run, spec, candidate)
            if not spec.audits_changes:
                # each check's subquery would otherwise read the table's days again: one scan, not one per check
                audited = audited.persist()
            audited.createOrReplaceTempView(view)
            ops = {r["_op"]: r["count"] for r in candidate.groupBy("_op").count().collect()}
            rows = sum(n for op, n in ops.items() if op != "delete")
        built = time.monotonic()
        checks = run_checks(run, spec.name, view, changes_only=new is not None and spec.audits_changes)
        if audited is not None:
            audited.unpersist()  # before the merge, which would otherwise mark it to be cached again
            audited = None
        results.extend(checks)
        checked = time.monotonic()
        failed = [r for r in checks if not r.passed]
        for r in checks:
            print(f"  check {'ok  ' if r.passed else 'FAIL'} {r.describe()}", flush=True)
        if failed:
            raise QualityGateError(f"quality gate failed for {run.target}.{spec.name} at check "
                                   f"{failed[0].check!r} (run {run.run_id}): "
                                   + "; ".join(r.describe() for r in failed))
        if new is None:
            publish(run, spec, candidate)
        else:
            merge(run, spec, candidate, ops)
        print(f"  built in {built - began:.1f}s, checked in {checked - built:.1f}s, "
              f"written in {time.monotonic() - checked:.1f}s", flush=True)
        return rows
    finally:
        if new is None:
            candidate.unpersist()
        elif audited is not None:
            audited.unpersist()


# -- incremental catch-up ----------------------------------------------------------------------
STATE_TABLE = "gold_source_snapshots"
STATE_SCHEMA = ("gold_table string, source_table string, snapshot_id bigint, committed_at timestamp, "
                "window_start date, window_end date, run_id string, recorded_at timestamp")
#: Flink stamps ingested_at when it writes a row but commits it at the next checkpoint, so a row
#: stamped shortly before a snapshot's commit can land in a later one: look back this much further
INGEST_MARGIN = timedelta(hours=1)
#: snapshot operations that add no rows an incremental read of appends would miss (replace: compaction)
APPEND_ONLY = {"append", "replace"}
#: the state's ``source_table`` of a merging table's own snapshot, as the run that recorded it left the table
WRITTEN = "(as written)"


@dataclass(frozen=True)
class Source:
    """A Silver table Gold reads: the time column that dates its rows, and how its changes are committed."""

    table: str
    time_column: str
    #: a CDC mirror: every change commits as an overwrite (an equality delete and the new row)
    upsert: bool = False
    #: the table whose ``time_column`` dates a row, joined on ``key`` (order lines: their order's day)
    via: str | None = None
    key: str | None = None


SOURCES = {s.table: s for s in (
    Source("pos_sales", "sold_at"),
    Source("online_orders", "placed_at", upsert=True),
    Source("online_order_items", "placed_at", upsert=True, via="online_orders", key="order_id"),
    Source("inventory_updates", "counted_at"),
    Source("customer_feedback", "reviewed_at"),
    Source("equipment_metrics", "read_at"),
    Source("clickstream", "occurred_at"),
)}


@dataclass(frozen=True)
class Snap:
    """An Iceberg snapshot of a Silver table (id None: the table had none) and its commit time in µs (UTC)."""

    id: int | None
    committed_us: int | None

    def describe(self) -> str:
        return "no snapshot" if self.id is None else f"snapshot {self.id} ({_utc(self.committed_us):%Y-%m-%d %H:%M:%S})"


@dataclass(frozen=True)
class State:
    """What earlier runs recorded: per (Gold table, ``ns.source``) the last snapshot, per table the last day built."""

    snaps: dict[tuple[str, str], Snap]
    built_through: dict[str, date]
    #: per Gold table, the window of the latest run that recorded it
    last: dict[str, reuse.Window] = field(default_factory=dict)


def _utc(micros: int | None) -> datetime | None:
    # timestamps travel as epoch microseconds: Python's conversions would use the driver's local zone
    return None if micros is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def sources_of(spec: GoldTable) -> dict[str, str | None]:
    """The Silver sources a table depends on -> the upstream Gold table it reads them through (None: directly)."""
    out: dict[str, str | None] = dict.fromkeys(spec.reads)
    for parent in spec.upstream:
        for source in sources_of(BY_NAME[parent]):
            out.setdefault(source, parent)
    return out


def inputs_of(spec: GoldTable) -> dict[str, str | None]:
    """Everything a table's contents depend on -> the Gold table it is read through (None: directly).

    Keys are Silver table names (as in :data:`SOURCES`), ``landing/<dataset>`` and ``calendar``: the
    catch-up sources of :func:`sources_of`, plus what the table ``uses`` and its ``masters``.
    """
    out: dict[str, str | None] = dict.fromkeys((*spec.reads, *spec.masters))
    for name in spec.uses:
        if name in SOURCES:
            out.setdefault(name, None)
    for parent in (*spec.upstream, *(u for u in spec.uses if u in BY_NAME)):
        for name in inputs_of(BY_NAME[parent]):
            out.setdefault(name, parent)
    return out


def state_name(run: Run, name: str) -> str:
    """An input's ``source_table`` in the state table: ``<source namespace>.<table>`` for Silver tables."""
    return f"{run.source}.{name}" if name in SOURCES else name


def fingerprint(run: Run, name: str) -> Snap:
    """What stands for a snapshot of a non-table input: a 64-bit hash of its landed files (name, size,
    modification time; listed through Hadoop's file system, so a bucket works like a folder) and the
    newest file's time, or of the calendar's bounds."""
    if name == "calendar":
        entries: list[tuple] = [tuple(map(str, CALENDAR))]
        newest = None
    else:
        dataset = name.removeprefix("landing/")
        contract = load_contract(dataset)
        entries = landed_files(run, dataset, f"{dataset}_*.{contract.file_format}")
        newest = max((e[2] for e in entries), default=None)
    digest = hashlib.blake2b(repr(entries).encode(), digest_size=8).digest()
    return Snap(int.from_bytes(digest, "big", signed=True), None if newest is None else newest * 1000)


def load_state(run: Run) -> State:
    """The latest recorded snapshot per Gold table and input, the last window end and the latest window per
    Gold table (one read of the state table: it grows by a few rows per table and run)."""
    table = f"{run.target}.{STATE_TABLE}"
    if not run.spark.catalog.tableExists(table):
        return State({}, {})
    rows = run.spark.table(table).select(
        "gold_table", "source_table", "snapshot_id", F.unix_micros("committed_at").alias("committed_us"),
        "window_start", "window_end", F.unix_micros("recorded_at").alias("recorded_us")).collect()
    snaps: dict[tuple[str, str], Snap] = {}
    through: dict[str, date] = {}
    last: dict[str, reuse.Window] = {}
    recorded: dict[tuple[str, str] | str, int] = {}
    for r in rows:
        key = (r.gold_table, r.source_table)
        if key not in recorded or r.recorded_us > recorded[key]:
            recorded[key] = r.recorded_us
            snaps[key] = Snap(r.snapshot_id, r.committed_us)
        if r.gold_table not in recorded or r.recorded_us > recorded[r.gold_table]:
            recorded[r.gold_table] = r.recorded_us
            last[r.gold_table] = reuse.Window(r.window_start, r.window_end)
        if r.window_end is not None and (r.gold_table not in through or r.window_end > through[r.gold_table]):
            through[r.gold_table] = r.window_end
    return State(snaps, through, last)


def landed_files(run: Run, dataset: str, glob: str) -> list[tuple[str, int, int]]:
    """(name, size, modification time in ms) of the files of a dataset's landing folder matching ``glob``, sorted.

    The landing folder is listed once per run by a Spark job (the ``binaryFile`` source, contents not
    read), so a bucket works like a folder and the driver may be a Spark Connect server's.
    """
    if run._landed is None:
        try:
            listing = (run.spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(run.landing))
                       .select("path", "length", F.unix_millis("modificationTime").alias("mtime")).collect())
        except AnalysisException as exc:
            if "PATH_NOT_FOUND" not in str(exc):
                raise
            listing = []  # nothing landed yet
        run._landed = [(*r.path.rsplit("/", 2)[-2:], r.length, r.mtime) for r in listing]
    return sorted((name, size, mtime) for folder, name, size, mtime in run._landed
                  if folder == dataset and fnmatch.fnmatchcase(name, glob))


#: a table's snapshots by id (parent id, operation, commit time in µs) and the id of its ``main`` head
SnapshotLog = tuple[dict[int, tuple[int | None, str, int]], int | None]


def _snapshot_query(table: str, source: str) -> str:
    """The snapshots of the Iceberg table ``table`` (fully qualified), with ``source`` as a label column."""
    return (f"select '{source}' as source, s.snapshot_id, s.parent_id, s.operation, "
            f"unix_micros(s.committed_at) as committed_us, r.snapshot_id is not null as is_head "
            f"from {table}.snapshots s left join {table}.refs r on r.snapshot_id = s.snapshot_id and r.name = 'main'")


def _snapshot_logs(run: Run, tables: Mapping[str, str]) -> dict[str, SnapshotLog]:
    """The snapshot logs of ``tables`` (label -> qualified name) in one query: one Spark job for them all."""
    logs: dict[str, SnapshotLog] = {label: ({}, None) for label in tables}
    if not tables:
        return logs
    statement = " union all ".join(_snapshot_query(name, label) for label, name in tables.items())
    for r in run.spark.sql(statement).collect():
        snaps, head = logs[r.source]
        snaps[r.snapshot_id] = (r.parent_id, r.operation, r.committed_us)
        logs[r.source] = (snaps, r.snapshot_id if r.is_head else head)
    return logs


def load_snapshot_logs(run: Run, tables: Sequence[str]) -> None:
    """Read the snapshot logs of the Silver ``tables`` the run has not read yet, in one query.

    Read from Iceberg's metadata tables (``snapshots``, ``refs``), not its Java API: a Spark Connect
    client has no JVM. A run pins each Silver table at the head it reads here, so one read serves it.
    """
    todo = {t: run.qualified(t) for t in dict.fromkeys(tables) if t not in run._snapshot_logs}
    run._snapshot_logs.update(_snapshot_logs(run, todo))


def _snapshot_log(run: Run, table: str, gold: bool) -> SnapshotLog:
    if gold:  # Gold tables change during the run: read each time
        name = f"{run.spark.catalog.currentCatalog()}.{run.target}.{table}"
        return _snapshot_logs(run, {table: name})[table]
    load_snapshot_logs(run, [table])
    return run._snapshot_logs[table]


def current_snapshot(run: Run, table: str, gold: bool = False) -> Snap:
    """The table's current snapshot (the head of its ``main`` branch)."""
    snaps, head = _snapshot_log(run, table, gold)
    return Snap(None, None) if head is None else Snap(head, snaps[head][2])


def operations_between(run: Run, table: str, start: int | None, end: int | None,
                       gold: bool = False) -> list[str] | None:
    """Operations of the snapshots after ``start`` up to ``end``; None when ``start`` is not an ancestor of
    ``end`` (expired by maintenance, or the table was replaced since)."""
    return operations_in(_snapshot_log(run, table, gold), start, end)


def operations_in(log: SnapshotLog, start: int | None, end: int | None) -> list[str] | None:
    """Operations of the snapshots of ``log`` after ``start`` up to ``end``, newest first, walking back from ``end``
    by parent; None when ``start`` is not an ancestor of ``end``."""
    snaps, _ = log
    ops, at = [], end
    while at != start:
        if at not in snaps:
            return None
        at, op, _ = snaps[at]
        ops.append(op)
    return ops


def new_rows(run: Run, source: Source, start: Snap, end: Snap) -> tuple[DataFrame | None, str, bool]:
    """The rows ``source`` gained after snapshot ``start`` up to ``end`` (None: none), how they were found, and
    whether they are exactly those rows (False: a superset, found by ``ingested_at`` as described below).

    - Append-only tables (Kafka streams): an Iceberg incremental read of the files appended between
      the two snapshots. Compactions (``replace``) add no rows and are skipped by that read.
    - CDC mirrors (online orders and their lines) commit every change as an overwrite, which an
      incremental read of appends skips; there, the rows whose ``ingested_at`` (stamped when Flink
      writes each insert or update) is after the recorded commit time, less :data:`INGEST_MARGIN`.
      Files hold narrow ``ingested_at`` ranges, so their statistics prune the scan to recent files. A
      status change keeps ``placed_at``, so the new version's day is the old one's. Deleted rows
      leave nothing to find: the shop deletes only cancelled orders, which fact_sales leaves out.
    - A recorded snapshot that is gone (expired by maintenance) or no longer an ancestor, or
      snapshots other than appends and compactions in between: the same ``ingested_at`` rule.
    """
    if start.id == end.id:
        return None, "unchanged", True
    rows = None
    if source.upsert:
        why = "CDC upserts commit as overwrites, not appends"
    else:
        ops = operations_between(run, source.table, start.id, end.id)
        if ops is None:
            why = f"{start.describe()} is gone (expired by maintenance?) or no longer an ancestor"
        elif set(ops) - APPEND_ONLY:
            why = f"{sorted(set(ops) - APPEND_ONLY)} snapshots since {start.describe()}, not only appends"
        elif "append" not in ops:
            return None, f"no appends since {start.describe()} (compaction only)", True
        else:
            # no recorded snapshot: the table was empty then, every row up to ``end`` is new
            rows = (run.spark.sql(f"select * from {run.qualified(source.table)} version as of {end.id}")
                    if start.id is None else
                    run.spark.read.format("iceberg").option("start-snapshot-id", str(start.id))
                    .option("end-snapshot-id", str(end.id)).load(run.qualified(source.table)))
            why = f"incremental read of {ops.count('append')} appends after {start.describe()}"
    if rows is None:
        rows = run.spark.table(run.qualified(source.table))
        if start.committed_us is not None:
            since = start.committed_us - INGEST_MARGIN // timedelta(microseconds=1)
            rows = rows.where(F.col("ingested_at") > F.timestamp_micros(F.lit(since)))
            why += f": rows ingested after {_utc(since):%Y-%m-%d %H:%M:%S}"
        return rows, why, False
    return rows, why, True


def changed_days(run: Run, source: Source, rows: DataFrame | None) -> list[date]:
    """The UTC days the new ``rows`` of ``source`` fall on (an order line: its order's day)."""
    if rows is None:
        return []
    if source.via:
        rows = run.spark.table(run.qualified(source.via)).join(rows.select(source.key).distinct(), source.key,
                                                               "left_semi")
    return incremental.changed_days(rows, source.time_column)


def plan_sources(run: Run, chosen: Sequence[GoldTable], state: State) -> dict[tuple[str, str], Snap]:
    """Per chosen table and Silver source it depends on: the snapshot this run builds the table up to.

    Sources read directly: their current snapshot, which the run's reads are pinned to. Sources
    behind an upstream Gold table: the snapshot that table was built up to (in this run when it is
    chosen, else as recorded), so a table built in its own task (Airflow) never runs ahead of its input.
    """
    names = {spec.name for spec in chosen}
    current: dict[str, Snap] = {}
    # every Silver table the chosen tables may read, in one query
    silver = dict.fromkeys(source for spec in chosen for source in inputs_of(spec) if source in SOURCES)
    load_snapshot_logs(run, [t for t in silver if run.spark.catalog.tableExists(f"{run.source}.{t}")])

    def now(source: str) -> Snap | None:
        if source not in current:
            if source not in SOURCES:
                current[source] = fingerprint(run, source)
            elif source in run._snapshot_logs:  # read above: the Silver tables that exist
                current[source] = current_snapshot(run, source)
        return current.get(source)

    ends: dict[tuple[str, str], Snap] = {}
    for spec in chosen:  # lineage order: an upstream table's ends are known before its readers'
        for source, parent in inputs_of(spec).items():
            if parent is None:
                end = now(source)
                if source in SOURCES and end is not None and end.id is not None:
                    run.pins[source] = end.id
            elif parent in names:
                end = ends.get((parent, source))
            else:
                end = state.snaps.get((parent, state_name(run, source))) or now(source)
            if end is not None:
                ends[(spec.name, source)] = end
    return ends


#: the new rows of a Silver source between two snapshots: (source, from id, to id) -> rows (None: none),
#: whether they are exactly the new rows (see :func:`new_rows`) and the days they fall on
NewRows = dict[tuple[str, int | None, int | None], tuple[DataFrame | None, bool, list[date]]]


def catch_up(run: Run, chosen: Sequence[GoldTable], state: State, ends: dict[tuple[str, str], Snap]) -> NewRows:
    """Move the window's start back to the earliest day new Silver rows fall on since each table's last build.

    Returns the new rows found, for the tables that merge them instead of rebuilding days (:func:`build_table`).
    """
    rows: NewRows = {}
    for spec in chosen:
        unrecorded = []
        for source in sources_of(spec):
            end, start = ends.get((spec.name, source)), state.snaps.get((spec.name, f"{run.source}.{source}"))
            if end is None:
                continue
            if start is None:
                unrecorded.append(source)
                continue
            find_new_rows(run, source, start, end, rows)
        if unrecorded:
            print(f"catch-up {spec.name}: nothing recorded yet for {', '.join(unrecorded)} (its first incremental "
                  "run): no days added for them", flush=True)
    wide = incremental.widen_window(run.start, run.end, [d for *_, days in rows.values() for d in days])
    if wide.added:
        print(f"catch-up: window now {wide.start}..{wide.end}, days added {', '.join(map(str, wide.added))}: "
              f"rows arrived late for {', '.join(map(str, wide.late))}", flush=True)
    if wide.later:
        print(f"catch-up: changed days after the window ({', '.join(map(str, wide.later))}) are left to the "
              "runs whose window holds them", flush=True)
    run.start = wide.start
    return rows


def find_new_rows(run: Run, source: str, start: Snap, end: Snap, found: NewRows) -> tuple[DataFrame | None, bool,
                                                                                         list[date]]:
    """The rows ``source`` gained from ``start`` to ``end`` as :func:`new_rows` finds them and their days, once
    per run: looked up in ``found``, else found, logged and added to it."""
    key = (source, start.id, end.id)
    if key not in found:
        new, why, exact = new_rows(run, SOURCES[source], start, end)
        found[key] = new, exact, changed_days(run, SOURCES[source], new)
        print(f"catch-up {run.source}.{source} up to {end.describe()}: {why}; changed days "
              f"{', '.join(map(str, found[key][2])) or 'none'}", flush=True)
    return found[key]


def current_snapshots(run: Run, spec: GoldTable, state: State, ends: dict[tuple[str, str], Snap],
                      found: NewRows) -> tuple[reuse.Window | None, str]:
    """The days whose ``as_of`` snapshots in ``spec`` are what a build would write now, and why (None: no day).

    A snapshot of day X is made of its Silver inputs (``spec.folds``) dated up to X. The table's last
    build wrote the snapshots of its window from the snapshots it recorded, so those of days before
    the first day any of them gained rows on since are still current: a day can be folded onto them.
    """
    last = state.last.get(spec.name)
    if not spec.folds:
        return None, "it declares no inputs to fold"
    if last is None:
        return None, "no earlier build recorded"
    settled = last.end
    for source in spec.folds:
        start, end = state.snaps.get((spec.name, state_name(run, source))), ends.get((spec.name, source))
        if start is None or end is None:
            return None, f"nothing recorded for {source}"
        days = find_new_rows(run, source, start, end, found)[2]
        if days:
            settled = min(settled, days[0] - timedelta(days=1))
    if settled < last.start:
        return None, f"new rows since its last build ({last.start}..{last.end}) fall on its days"
    return reuse.Window(last.start, settled), f"those of {last.start}..{settled} are current"


def record_state(run: Run, chosen: Sequence[GoldTable], state: State, ends: dict[tuple[str, str], Snap],
                 kept: set[str] = frozenset()) -> None:
    """Record, after every chosen table was published, the snapshots they are now built up to.

    A run over a window older than one already built (a backfill, a rerun) records nothing for that
    table: the changes since its last record may fall on the later days it did not rebuild, and the
    next run that reaches them must still see them. Readers of such a table are held back alike.
    Tables ``kept`` as they were keep their record: it already says what they were built from.
    """
    now = datetime.now(UTC)
    rows, held = [], set()
    for spec in chosen:
        if spec.name in kept:
            continue
        through = state.built_through.get(spec.name)
        behind = held & set(spec.upstream)
        # dimensions are rebuilt whole, whatever the window: what they were built from is always current
        if spec.layer != "dimension" and ((through is not None and run.end < through) or behind):
            held.add(spec.name)
            reason = f"upstream {', '.join(sorted(behind))} held" if behind else f"built through {through} already"
            print(f"catch-up {spec.name}: {reason}: its snapshots are left as recorded", flush=True)
            continue
        for source in inputs_of(spec):
            end = ends.get((spec.name, source))
            if end is not None:
                rows.append((spec.name, state_name(run, source), end.id, _utc(end.committed_us), run.start,
                             run.end, run.run_id, now))
        if spec.delta is not None:  # what its next merge starts from (see merge_reason)
            written = current_snapshot(run, spec.name, gold=True)
            rows.append((spec.name, WRITTEN, written.id, _utc(written.committed_us), run.start, run.end,
                         run.run_id, now))
    if rows:
        _append(run, STATE_TABLE, run.spark.createDataFrame(rows, STATE_SCHEMA))


def rebuild_reason(run: Run, spec: GoldTable, state: State, ends: dict[tuple[str, str], Snap]) -> str | None:
    """Why an incremental run builds ``spec``, or None to keep it as it is (:mod:`spark_jobs.gold.reuse`)."""
    if not run.spark.catalog.tableExists(f"{run.target}.{spec.name}"):
        return "not built yet"
    current, recorded = {}, {}
    for name in inputs_of(spec):
        if (spec.name, name) in ends:
            current[name] = ends[(spec.name, name)].id
        if (at := state.snaps.get((spec.name, state_name(run, name)))) is not None:
            recorded[name] = at.id
    # a dimension is rebuilt whole from all its inputs: what it holds does not depend on the window
    windowed = spec.layer != "dimension"
    return reuse.rebuild_reason(current, recorded, state.last.get(spec.name), reuse.Window(run.start, run.end),
                                windowed)


def merge_reason(run: Run, spec: GoldTable, state: State, ends: dict[tuple[str, str], Snap]) -> str | None:
    """Why an incremental run rebuilds the window's days of a table with a ``delta``, or None to merge instead.

    A merge adds what the table's sources gained since its last build to what that build wrote, so it
    needs that build to have covered the same last day (the days after it hold rows it skipped) and
    every other input (the dimensions' landed files) to be as it was then: a new dimension version
    may change rows the merge would not touch.
    """
    last = state.last.get(spec.name)
    if last is None or last.end != run.end:
        return f"its last build ended on {last.end if last else 'no day'}, not {run.end}"
    # an as-of snapshot is brought up to date from what the last build wrote of it: every day must be one it wrote
    if spec.folds and last.start > run.start:
        return f"its last build started on {last.start}, after this window's first day {run.start}"
    # a merge adds the rows recorded as new to the table as the recording run left it: a run that wrote the
    # table but recorded nothing (it failed at a later table, was killed, or ran with --no-catch-up) may
    # hold them already, and merged again they would be duplicates; compaction (replace) changes no row
    written = state.snaps.get((spec.name, WRITTEN))
    if written is None:
        return "the snapshot its last build left is not recorded"
    log = _snapshot_log(run, spec.name, gold=True)  # one read for its head and its history
    since = operations_in(log, written.id, log[1])
    if since is None:
        return "the snapshot its last build left is no longer in its history (expired by maintenance)"
    if set(since) - {"replace"}:
        return "it was written after its last recorded build (by a run that did not record its inputs)"
    sources = spec.delta_sources()
    for name in inputs_of(spec):
        recorded = state.snaps.get((spec.name, state_name(run, name)))
        if recorded is None:
            return f"nothing recorded for {name}"
        current = ends.get((spec.name, name))
        # a source of its delta: its new rows are what the delta merges
        if name not in sources and (current is None or current.id != recorded.id):
            return f"new input in {name}"
    return None


def new_rows_of(run: Run, spec: GoldTable, state: State, ends: dict[tuple[str, str], Snap],
                found: NewRows) -> tuple[dict[str, DataFrame | None], str | None]:
    """Per source of the table's delta (:meth:`GoldTable.delta_sources`), the rows it gained since the table's last
    build (as catch-up found them), and why they cannot be merged (None: they can).

    A merge inserts an append-only source's new rows as new rows, so it needs exactly those: a superset
    (a recorded snapshot expired by maintenance) would insert rows already there. A CDC mirror's changed
    keys are replaced whole, so a superset of them only costs time.
    """
    out: dict[str, DataFrame | None] = {}
    why = None
    for source in spec.delta_sources():
        start, end = state.snaps[(spec.name, state_name(run, source))], ends[(spec.name, source)]
        out[source], exact, _ = find_new_rows(run, source, start, end, found)
        if not exact and source in spec.inserts:
            why = f"the new rows of {source} are not known exactly"
    return out, why


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
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="rebuild every day found in the source")
    mode.add_argument("--no-catch-up", action="store_true", help="build the window as given: do not reach back "
                      "over days with new Silver rows since the last run (nor record this run as caught up)")
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
    if is_remote():  # a Spark Connect server keeps its own log level
        print(f"gold_daily: on the Spark Connect server {os.environ.get('SPARK_REMOTE', '')}", flush=True)
    else:
        spark.sparkContext.setLogLevel("WARN")  # the log keeps the checks and row counts readable
        print(f"gold_daily: in a driver of its own, master {spark.sparkContext.master}", flush=True)
    run_id = args.run_id or f"gold-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    run = Run(spark, args.start, args.end, args.source_namespace, args.target_namespace,
              load_settings().landing_dir, run_id, args.full)
    spark.sql(f"create namespace if not exists {run.target}")
    planning = time.monotonic()
    # catch-up state: read unless told not to; a full rebuild needs no catch-up but records where it read
    state = State({}, {}) if args.no_catch_up else load_state(run)
    ends = {} if args.no_catch_up else plan_sources(run, chosen, state)
    found: NewRows = {}
    if run.full:
        run.start = first_source_day(run)
    elif not args.no_catch_up:
        found = catch_up(run, chosen, state, ends)
    print(f"gold_daily run {run_id}: {run.source} -> {run.target}, days {run.start}..{run.end}"
          f"{' (full rebuild)' if run.full else ''}{' (no catch-up)' if args.no_catch_up else ''}; planned in "
          f"{time.monotonic() - planning:.1f}s", flush=True)
    kept: set[str] = set()
    results: list[CheckResult] = []
    status = 0
    incremental_run = not (run.full or args.no_catch_up)
    try:
        for spec in chosen:
            began = time.monotonic()
            new: dict[str, DataFrame | None] | None = None  # rows to merge instead of rebuilding days
            # a full rebuild and --no-catch-up build everything they are given; an incremental run keeps
            # a table whose inputs and days are those of its last build
            if incremental_run:
                why = rebuild_reason(run, spec, state, ends)
                if why is None:
                    kept.add(spec.name)
                    last = state.last[spec.name]
                    print(f"{run.target}.{spec.name}: kept as built by the run of {last.start}..{last.end}, its "
                          f"inputs are unchanged ({time.monotonic() - began:.1f}s)", flush=True)
                    continue
                no_merge = None if spec.delta is None else merge_reason(run, spec, state, ends)
                if spec.delta is not None and no_merge is None:
                    new, no_merge = new_rows_of(run, spec, state, ends, found)
                if spec.delta is not None and no_merge is None:
                    print(f"{run.target}.{spec.name}: merging the new rows of {', '.join(sorted(new))} ({why})",
                          flush=True)
                else:
                    new = None
                    print(f"{run.target}.{spec.name}: building ({why})", flush=True)
                    if no_merge:
                        print(f"  by day, not merging the new rows: {no_merge}", flush=True)
            table_run = run  # the run as this table sees it: which of its as-of snapshots are current
            if incremental_run and spec.folds:
                current, current_why = current_snapshots(run, spec, state, ends, found)
                table_run = replace(run, current=current)
                print(f"  as-of snapshots: {current_why}", flush=True)
            rows = build_table(table_run, spec, results, new)
            print(f"{run.target}.{spec.name}: {rows} rows written ({time.monotonic() - began:.1f}s)", flush=True)
    except QualityGateError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        print(f"error: {exc}", flush=True)
        status = 2
    except BaseException:
        # another failure: its traceback is what matters; the checks run so far are written if Spark still can
        try:
            record_results(run, results)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: the quality results of this run were not written: {exc}", file=sys.stderr, flush=True)
        raise
    # the failing check's results too: written before the job exits
    record_results(run, results)
    if status == 0 and not args.no_catch_up:
        # only now: a failed table keeps its changes pending for the next run
        record_state(run, chosen, state, ends, kept)
    spark.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
