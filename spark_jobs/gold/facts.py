"""Gold facts: sale lines of every channel, daily inventory, feedback, hourly equipment, web sessions.

Inputs are Silver tables (the contracts' fields) and the Gold dimensions of
:mod:`spark_jobs.gold.dimensions`. A fact line is joined to the dimension version valid on its
event's UTC day (``valid_from <= day < valid_to``); a line whose key has no version on that day
(a key the master data did not know yet) keeps NULL surrogate keys, which the quality gate
"references resolve" reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: In-store sales carry this channel; online orders carry their own (web or app).
STORE_CHANNEL = "store"
#: clickstream device -> sales channel of fact_sales
DEVICE_CHANNEL = {"web_desktop": "web", "web_mobile": "web", "ios_app": "app", "android_app": "app"}
SESSION_GAP = timedelta(minutes=30)

MONEY = "decimal(12,2)"


def money(c: Column) -> Column:
    """An amount as decimal(12,2): sums and products of decimal(10,2) widen, the Gold tables do not."""
    return c.cast(MONEY)


def first_by(value: str | Column, *order: str | Column) -> Column:
    """Aggregate: ``value`` of the row with the smallest ``order`` among rows where value is not NULL.

    The minimum of a struct ignores NULL structs and breaks ties on the later fields: deterministic,
    unlike ``first()``.
    """
    v = F.col(value) if isinstance(value, str) else value
    return F.min(F.when(v.isNotNull(), F.struct(*order, v.alias("_v"))))["_v"]


def last_by(value: str | Column, *order: str | Column) -> Column:
    """Aggregate: ``value`` of the row with the largest ``order`` among rows where value is not NULL."""
    v = F.col(value) if isinstance(value, str) else value
    return F.max(F.when(v.isNotNull(), F.struct(*order, v.alias("_v"))))["_v"]


def as_of_join(facts: DataFrame, dim: DataFrame, key: str, day: str, columns: Mapping[str, str]) -> DataFrame:
    """Left-join the dimension version valid on ``day`` to each fact row; ``columns``: dim column -> new name."""
    d = dim.select(F.col(key).alias("_dim_key"), F.col("valid_from").alias("_vf"), F.col("valid_to").alias("_vt"),
                   *[F.col(c).alias(alias) for c, alias in columns.items()])
    cond = (F.col(key) == F.col("_dim_key")) & (F.col("_vf") <= F.col(day)) & (F.col(day) < F.col("_vt"))
    return facts.join(d, cond, "left").drop("_dim_key", "_vf", "_vt")


#: order lifecycle, to break ties between two changes of one order within the same instant
STATUS_ORDER = ("placed", "baking", "out_for_delivery", "delivered", "cancelled")


def latest_order_versions(online_orders: DataFrame) -> DataFrame:
    """The newest row of each order (CDC may land one row per status change). Grain: one row per order_id."""
    stage = F.array_position(F.array(*[F.lit(s) for s in STATUS_ORDER]), F.col("status"))
    newest = Window.partitionBy("order_id").orderBy(F.col("updated_at").desc(), stage.desc())
    return online_orders.withColumn("_n", F.row_number().over(newest)).where("_n = 1").drop("_n")


def fact_sales(pos_sales: DataFrame, online_orders: DataFrame, online_order_items: DataFrame,
               dim_product: DataFrame, dim_store: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """gold.fact_sales: in-store sale lines and lines of delivered online orders, in one table.

    Grain: one row per sale line: ``sale_line_id`` is the POS ``event_id`` (channel ``store``) or
    the ``order_item_id`` (channel ``web`` or ``app``); ``sale_id`` is the receipt or order id.
    ``sold_at`` is when the price was agreed: the till time, or the order's ``placed_at``; its
    UTC day picks the product, store and customer versions. Online lines carry no discount.
    """
    pos = pos_sales.select(
        F.col("event_id").alias("sale_line_id"), F.lit(STORE_CHANNEL).alias("channel"), "sale_id", "line_number",
        "store_id", "product_id", "customer_id", "quantity", "unit_price", "discount", "payment_method",
        F.lit(None).cast("string").alias("campaign_id"), "sold_at")
    delivered = latest_order_versions(online_orders).where(F.col("status") == "delivered")
    by_order = Window.partitionBy("order_id").orderBy("added_at", "order_item_id")
    online = (online_order_items.join(delivered.select("order_id", "customer_id", "store_id", "channel",
                                                        "campaign_id", "placed_at"), "order_id")
              .select(F.col("order_item_id").alias("sale_line_id"), "channel", F.col("order_id").alias("sale_id"),
                      F.row_number().over(by_order).alias("line_number"), "store_id", "product_id", "customer_id",
                      "quantity", "unit_price", F.lit(0).cast("decimal(10,2)").alias("discount"),
                      F.lit(None).cast("string").alias("payment_method"), "campaign_id",
                      F.col("placed_at").alias("sold_at")))
    lines = (pos.unionByName(online)
             .withColumn("sale_date", F.to_date("sold_at"))
             .withColumn("revenue", money(F.col("quantity") * F.col("unit_price") - F.col("discount"))))
    lines = as_of_join(lines, dim_product, "product_id", "sale_date",
                       {"product_sk": "product_sk", "category": "category", "unit_price": "list_price",
                        "unit_cost": "unit_cost"})
    lines = as_of_join(lines, dim_store, "store_id", "sale_date", {"store_sk": "store_sk"})
    lines = as_of_join(lines, dim_customer, "customer_id", "sale_date", {"customer_sk": "customer_sk"})
    cost = money(F.col("quantity") * F.col("unit_cost"))
    return lines.select(
        "sale_line_id", "channel", "sale_id", "line_number", "sold_at", "sale_date", "store_id", "store_sk",
        "product_id", "product_sk", "category", "customer_id", "customer_sk", "campaign_id", "payment_method",
        "quantity", "unit_price", "list_price", "discount", "revenue", cost.alias("cost"),
        money(F.col("revenue") - cost).alias("margin"))


def fact_inventory_daily(inventory_updates: DataFrame) -> DataFrame:
    """gold.fact_inventory_daily: deliveries, waste and the day's last stock count.

    Grain: one row per store_id, product_id and UTC day of ``counted_at``. Give it every update of
    the days to rebuild (late updates arrive up to 48 h late: the main recomputes each day that
    new Silver rows fall on and overwrites those days).
    """
    kind = F.col("update_type")
    return (inventory_updates.withColumn("inventory_date", F.to_date("counted_at"))
            .groupBy("inventory_date", "store_id", "product_id")
            .agg(F.sum(F.when(kind == "delivery", F.col("quantity")).otherwise(0)).cast("bigint")
                 .alias("delivered_units"),
                 F.sum(F.when(kind == "waste", F.col("quantity")).otherwise(0)).cast("bigint").alias("wasted_units"),
                 F.count(F.when(kind == "count", 1)).alias("counts"),
                 last_by(F.when(kind == "count", F.col("quantity")), "counted_at", "event_id").alias("closing_count"),
                 F.max(F.when(kind == "count", F.col("counted_at"))).alias("last_counted_at"),
                 F.count(F.lit(1)).alias("updates")))


def fact_feedback(customer_feedback: DataFrame, dim_customer: DataFrame, dim_store: DataFrame) -> DataFrame:
    """gold.fact_feedback. Grain: one row per review (``feedback_id`` = the Silver ``event_id``)."""
    fb = customer_feedback.withColumn("review_date", F.to_date("reviewed_at"))
    fb = as_of_join(fb, dim_customer, "customer_id", "review_date", {"customer_sk": "customer_sk"})
    fb = as_of_join(fb, dim_store, "store_id", "review_date", {"store_sk": "store_sk"})
    subject = (F.when(F.col("sale_id").isNotNull(), "store_sale")
               .when(F.col("order_id").isNotNull(), "online_order").otherwise("general"))
    return fb.select(
        F.col("event_id").alias("feedback_id"), "reviewed_at", "review_date", "channel", "customer_id", "customer_sk",
        "store_id", "store_sk", "sale_id", "order_id", subject.alias("subject"), "rating",
        (F.col("rating") >= 4).alias("is_positive"), (F.col("rating") <= 2).alias("is_negative"), "comment",
        (F.length(F.trim(F.coalesce(F.col("comment"), F.lit("")))) > 0).alias("has_comment"))


def fact_equipment_hourly(equipment_metrics: DataFrame) -> DataFrame:
    """gold.fact_equipment_hourly: sensor statistics per device and hour.

    Grain: one row per device_id and UTC hour (``hour_start``). Means are rounded to 3 decimals so
    a rebuild gives the same values whatever order Spark sums the readings in.
    """
    status_rank = F.when(F.col("status") == "fault", 2).when(F.col("status") == "warning", 1).otherwise(0)
    worst = F.max(status_rank)
    return (equipment_metrics.withColumn("hour_start", F.date_trunc("hour", "read_at"))
            .groupBy("device_id", "hour_start")
            .agg(last_by("store_id", "read_at", "event_id").alias("store_id"),
                 last_by("device_type", "read_at", "event_id").alias("device_type"),
                 F.count(F.lit(1)).alias("readings"),
                 F.round(F.avg("temperature_c"), 3).alias("temperature_mean_c"),
                 F.min("temperature_c").alias("temperature_min_c"),
                 F.max("temperature_c").alias("temperature_max_c"),
                 F.round(F.stddev_samp("temperature_c"), 3).alias("temperature_stddev_c"),
                 F.round(F.avg("power_kw"), 3).alias("power_mean_kw"),
                 F.max("power_kw").alias("power_max_kw"),
                 F.sum("door_cycles").cast("bigint").alias("door_cycles"),
                 F.round(F.avg("vibration_mm_s"), 3).alias("vibration_mean_mm_s"),
                 F.max("vibration_mm_s").alias("vibration_max_mm_s"),
                 F.count(F.when(F.col("status") == "warning", 1)).alias("warning_readings"),
                 F.count(F.when(F.col("status") == "fault", 1)).alias("fault_readings"),
                 F.when(worst == 2, "fault").when(worst == 1, "warning").otherwise("ok").alias("worst_status"))
            .select("device_id", "store_id", "device_type", "hour_start", "readings", "temperature_mean_c",
                    "temperature_min_c", "temperature_max_c", "temperature_stddev_c", "power_mean_kw", "power_max_kw",
                    "door_cycles", "vibration_mean_mm_s", "vibration_max_mm_s", "warning_readings", "fault_readings",
                    "worst_status"))


def _device_channel() -> Column:
    mapping = F.create_map(*[F.lit(x) for kv in DEVICE_CHANNEL.items() for x in kv])
    return mapping[F.col("device")]


def fact_web_sessions(clickstream: DataFrame, gap: timedelta = SESSION_GAP) -> DataFrame:
    """gold.fact_web_sessions: clickstream events grouped into visits.

    Grain: one row per visit: the events of one ``anonymous_id`` (browser or device) with less than
    ``gap`` (30 minutes) between consecutive ones; an event exactly ``gap`` after the previous one
    opens a new visit, as Spark's ``session_window`` would. The producer's ``session_id`` is not
    trusted to split visits (apps keep one for days); ``source_sessions`` counts them.
    ``web_session_id`` is a hash of the visitor and the first event time: stable across rebuilds.
    """
    by_visitor = Window.partitionBy("anonymous_id").orderBy("occurred_at", "event_id")
    gap_s = int(gap.total_seconds())
    prev = F.lag("occurred_at").over(by_visitor)
    new_visit = F.when(prev.isNull() | (F.unix_micros("occurred_at") - F.unix_micros(prev) >= gap_s * 1_000_000), 1)
    events = (clickstream.withColumn("_new", F.coalesce(new_visit, F.lit(0)))
              .withColumn("_visit", F.sum("_new").over(by_visitor.rowsBetween(Window.unboundedPreceding, 0))))
    kind = F.col("event_type")

    def n(event_type: str) -> Column:
        return F.count(F.when(kind == event_type, 1))

    sessions = events.groupBy("anonymous_id", "_visit").agg(
        F.min("occurred_at").alias("started_at"), F.max("occurred_at").alias("ended_at"),
        first_by("customer_id", "occurred_at", "event_id").alias("customer_id"),
        first_by("device", "occurred_at", "event_id").alias("device"),
        first_by("channel", "occurred_at", "event_id").alias("entry_channel"),
        first_by("page", "occurred_at", "event_id").alias("landing_page"),
        first_by("campaign_id", "occurred_at", "event_id").alias("campaign_id"),
        F.count(F.lit(1)).alias("events"), n("page_view").alias("page_views"),
        n("product_view").alias("product_views"), n("add_to_cart").alias("add_to_carts"),
        n("remove_from_cart").alias("remove_from_carts"), n("checkout").alias("checkouts"),
        n("purchase").alias("purchases"),
        F.count_distinct("product_id").alias("distinct_products"),
        F.count_distinct("session_id").alias("source_sessions"),
        F.sort_array(F.collect_set("order_id")).alias("order_ids"))
    session_id = F.substring(F.sha2(F.concat_ws("|", "anonymous_id", F.date_format(
        "started_at", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")), 256), 1, 32)
    return sessions.select(
        session_id.alias("web_session_id"), "anonymous_id", "customer_id", "started_at", "ended_at",
        F.to_date("started_at").alias("session_date"),
        ((F.unix_micros("ended_at") - F.unix_micros("started_at")) / 1_000_000).cast("bigint")
        .alias("duration_seconds"),
        "device", _device_channel().alias("sales_channel"), "entry_channel", "landing_page", "campaign_id",
        "events", "page_views", "product_views", "add_to_carts", "remove_from_carts", "checkouts", "purchases",
        "distinct_products", "source_sessions", "order_ids", (F.col("purchases") > 0).alias("converted"))
