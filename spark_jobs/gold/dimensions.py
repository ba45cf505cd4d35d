"""Gold dimensions: SCD Type 2 from the daily master-data snapshots, plain dimensions, a calendar.

SCD Type 2 model
----------------
A version row holds a business key, its attributes and

- ``valid_from``: the first snapshot day the version was seen;
- ``valid_to``: the ``valid_from`` of the key's next version, or ``OPEN_END`` (9999-12-31) for the
  current one; a version covers the days ``valid_from <= day < valid_to``;
- ``is_current``: ``valid_to = OPEN_END``;
- ``last_seen_on``: the latest snapshot day that confirmed the version (bookkeeping that lets a
  late or out-of-order snapshot be merged exactly, see :func:`scd2_history`);
- a surrogate key ``<name>_sk``: ``xxhash64(business key, valid_from)``, so a rerun or a rebuild
  gives the same keys.

*Tracked* columns open a new version when they change; every other contract column is Type 1:
all versions of a key carry the value of the newest snapshot that has the key.

Every snapshot day ``d`` is an observation "on day d the key had these attributes". A version is
a run of consecutive observations with equal tracked attributes; the days between two
observations of one run are taken to belong to it (snapshots are daily full exports). Merging a
snapshot overwrites the observation of its day and re-forms the runs, so applying the same
snapshot twice changes nothing, and applying a range of daily snapshots in any order (backfills,
late files) gives the same dimension as applying them in date order. A key missing from one
snapshot is not taken as deleted: these sources retire records with an attribute
(``products.active``) rather than dropping them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from headwater.contracts import load_contract

#: valid_to of current versions: far in the future rather than NULL, so `day < valid_to` needs no NULL case.
OPEN_END = date(9999, 12, 31)
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current", "last_seen_on")

STORE_TRACKED = ("name", "city", "address")  # renames and moves
PRODUCT_TRACKED = ("unit_price", "unit_cost", "active")  # price history, retirement
CUSTOMER_TRACKED = ("segment", "city")


def contract_columns(name: str) -> list[str]:
    """The contract's field names in declaration order (what a Silver table or landing file holds)."""
    return [f.name for f in load_contract(name).fields]


def _same(columns: Sequence[str], window: Window) -> Column:
    """True when every column equals its value on the previous row of the window (NULL-safe)."""
    cond = F.lit(True)
    for c in columns:
        cond = cond & F.col(c).eqNullSafe(F.lag(c).over(window))
    return cond


def default_sk(key: str) -> str:
    """``product_id`` -> ``product_sk``."""
    return key.removesuffix("_id") + "_sk"


def scd2_history(current_dim: DataFrame | None, snapshots: DataFrame, key: str, tracked_columns: Sequence[str],
                 *, sk_column: str | None = None, date_column: str = "snapshot_date") -> DataFrame:
    """Merge snapshots of one or many days (``date_column`` holds each row's file date) into a dimension.

    Grain: one row per business key and version. Returns the whole new dimension (unchanged
    versions included); ``current_dim`` None builds it from the snapshots alone (a full rebuild).
    The surrogate key column is ``sk_column`` (default: the key with ``_id`` replaced by ``_sk``).
    """
    sk_column = sk_column or default_sk(key)
    values = [c for c in snapshots.columns if c not in (key, date_column)]
    missing = sorted(set(tracked_columns) - set(values))
    if missing:
        raise ValueError(f"tracked columns {missing} are not in the snapshot")
    type1 = [c for c in values if c not in tracked_columns]

    # one observation per key and day; a duplicated key in a file resolves the same way on every run
    by_day = Window.partitionBy(key, "_from").orderBy(*[F.col(c).asc_nulls_first() for c in values])
    obs = (snapshots.select(key, *values, F.col(date_column).cast("date").alias("_from"))
           .withColumn("_n", F.row_number().over(by_day)).where("_n = 1").drop("_n")
           .withColumn("_last", F.col("_from")).withColumn("_new", F.lit(True)))

    if current_dim is None:
        segments = obs
    else:
        old = current_dim.select(key, *values, F.col("valid_from").alias("_from"),
                                 F.col("last_seen_on").alias("_last"), F.lit(False).alias("_new"))
        days = obs.select(F.col(key).alias("_k"), F.col("_from").alias("_day"))
        # old versions with a new observation inside [valid_from, last_seen_on] lose those days: they
        # split into the pieces between the new days (the new observations fill the holes)
        hits = old.join(days, (F.col(key) == F.col("_k")) & F.col("_day").between(F.col("_from"), F.col("_last")))
        per_segment = Window.partitionBy(key, "_from").orderBy("_day")
        before = (hits.withColumn("_prev", F.lag("_day").over(per_segment))
                  .withColumn("_piece_from", F.coalesce(F.date_add("_prev", 1), F.col("_from")))
                  .withColumn("_piece_last", F.date_sub("_day", 1)))
        tail = (hits.groupBy(key, "_from").agg(F.max("_day").alias("_day"))
                .join(old, [key, "_from"])
                .withColumn("_piece_from", F.date_add("_day", 1)).withColumn("_piece_last", F.col("_last")))
        pieces = (before.select(key, *values, "_new", "_piece_from", "_piece_last")
                  .unionByName(tail.select(key, *values, "_new", "_piece_from", "_piece_last"))
                  .where(F.col("_piece_from") <= F.col("_piece_last"))
                  .withColumnRenamed("_piece_from", "_from").withColumnRenamed("_piece_last", "_last"))
        untouched = old.join(hits.select(key, "_from").distinct(), [key, "_from"], "left_anti")
        segments = untouched.unionByName(pieces).unionByName(obs.select(*untouched.columns))

    # Type 1 columns: the newest observation wins (a re-sent file of the same day replaces the old one)
    newest = (Window.partitionBy(key).orderBy(F.col("_last").desc(), F.col("_new").desc())
              .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing))
    segments = segments.select(key, *tracked_columns, "_from", "_last",
                               *[F.first(c).over(newest).alias(c) for c in type1])

    # runs of equal tracked attributes form the versions (gaps-and-islands)
    ordered = Window.partitionBy(key).orderBy("_from")
    runs = (segments.withColumn("_change", F.when(_same(tracked_columns, ordered), 0).otherwise(1))
            .withColumn("_run", F.sum("_change").over(ordered.rowsBetween(Window.unboundedPreceding, 0))))
    versions = runs.groupBy(key, "_run").agg(
        F.min("_from").alias("valid_from"), F.max("_last").alias("last_seen_on"),
        *[F.first(c).alias(c) for c in (*tracked_columns, *type1)])  # equal within a run
    valid_to = F.coalesce(F.lead("valid_from").over(Window.partitionBy(key).orderBy("valid_from")),
                          F.lit(OPEN_END))
    return (versions.withColumn("valid_to", valid_to)
            .select(F.xxhash64(F.col(key), F.col("valid_from")).alias(sk_column), key, *values, "valid_from",
                    "valid_to", (F.col("valid_to") == F.lit(OPEN_END)).alias("is_current"), "last_seen_on"))


def scd2(current_dim: DataFrame | None, snapshot: DataFrame, snapshot_date: date, key: str,
         tracked_columns: Sequence[str], *, sk_column: str | None = None) -> DataFrame:
    """Merge one day's full snapshot into an SCD Type 2 dimension and return the whole new dimension.

    Grain: one row per business key and version. Idempotent; snapshots may come in any order
    (see :func:`scd2_history`, of which this is the one-day case).
    """
    day = snapshot.withColumn("_snapshot_date", F.lit(snapshot_date).cast("date"))
    return scd2_history(current_dim, day, key, tracked_columns, sk_column=sk_column, date_column="_snapshot_date")


def dim_store(current_dim: DataFrame | None, stores: DataFrame, snapshot_date: date) -> DataFrame:
    """gold.dim_store. Grain: one row per store_id and version (renames and moves open a version)."""
    return scd2(current_dim, stores.select(*contract_columns("stores")), snapshot_date, "store_id",
                STORE_TRACKED, sk_column="store_sk")


def dim_product(current_dim: DataFrame | None, products: DataFrame, snapshot_date: date) -> DataFrame:
    """gold.dim_product. Grain: one row per product_id and version (price, cost or retirement changes)."""
    return scd2(current_dim, products.select(*contract_columns("products")), snapshot_date, "product_id",
                PRODUCT_TRACKED, sk_column="product_sk")


def dim_customer(current_dim: DataFrame | None, customers: DataFrame, snapshot_date: date) -> DataFrame:
    """gold.dim_customer. Grain: one row per customer_id and version (segment or city changes)."""
    return scd2(current_dim, customers.select(*contract_columns("customers")), snapshot_date, "customer_id",
                CUSTOMER_TRACKED, sk_column="customer_sk")


def latest_by_key(snapshots: DataFrame, dataset: str, date_column: str = "snapshot_date") -> DataFrame:
    """The contract's columns of each key's row in the newest snapshot that has the key.

    Grain: one row per contract key. Keys that later files drop are kept (with their last values).
    """
    contract = load_contract(dataset)
    cols = contract_columns(dataset)
    newest = Window.partitionBy(contract.key).orderBy(
        F.col(date_column).desc(), *[F.col(c).asc_nulls_first() for c in cols])
    return (snapshots.withColumn("_n", F.row_number().over(newest)).where("_n = 1").select(*cols))


def dim_equipment(equipment: DataFrame, date_column: str = "snapshot_date") -> DataFrame:
    """gold.dim_equipment from equipment snapshots (``date_column``: file date). Grain: one row per device_id."""
    return latest_by_key(equipment, "equipment", date_column)


def dim_campaign(campaigns: DataFrame, date_column: str = "snapshot_date") -> DataFrame:
    """gold.dim_campaign from campaign snapshots. Grain: one row per campaign_id.

    Adds ``duration_days`` (both ends included) for the campaign-effectiveness arithmetic.
    """
    return (latest_by_key(campaigns, "campaigns", date_column)
            .withColumn("duration_days", F.date_diff("ends_on", "starts_on") + 1))


def dim_weather(weather: DataFrame, date_column: str = "snapshot_date") -> DataFrame:
    """gold.dim_weather from the daily weather files. Grain: one row per city and date (weather_id).

    Each file holds its day's weather; a re-issued day's newest file wins.
    """
    return (latest_by_key(weather, "weather", date_column)
            .withColumn("is_wet", F.col("condition").isin("rain", "storm", "snow")))


def dim_date(spark: SparkSession, start: date, end: date) -> DataFrame:
    """gold.dim_date: a generated calendar from ``start`` to ``end`` inclusive. Grain: one row per day.

    Weeks are ISO weeks (Monday first, ``day_of_week`` 1 = Monday ... 7 = Sunday).
    """
    days = spark.range(1).select(F.explode(F.sequence(F.lit(start), F.lit(end))).alias("date"))
    dow = F.dayofweek("date")  # Spark: 1 = Sunday
    iso_dow = F.when(dow == 1, 7).otherwise(dow - 1)
    return days.select(
        (F.year("date") * 10000 + F.month("date") * 100 + F.dayofmonth("date")).alias("date_key"),
        "date",
        F.year("date").alias("year"),
        F.quarter("date").alias("quarter"),
        F.month("date").alias("month"),
        F.date_format("date", "MMMM").alias("month_name"),
        F.dayofmonth("date").alias("day_of_month"),
        F.dayofyear("date").alias("day_of_year"),
        iso_dow.alias("day_of_week"),
        F.date_format("date", "EEEE").alias("day_name"),
        F.weekofyear("date").alias("iso_week"),
        # the ISO week-year differs from the calendar year around New Year
        F.year(F.date_add("date", 4 - iso_dow)).alias("iso_year"),
        (iso_dow >= 6).alias("is_weekend"),
        F.trunc("date", "month").alias("month_start"),
        F.date_sub("date", iso_dow - 1).alias("week_start"),
    )
