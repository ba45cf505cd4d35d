"""Gold aggregates over the facts: product sales per day, channel performance, campaign effectiveness, RFM
segments, customer profiles.

Everything that depends on "now" takes an explicit ``as_of`` day, so a rerun or a backfill for a
past day gives the same table as the scheduled run did.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.gold.facts import STORE_CHANNEL, money

#: campaigns of this marketing channel act on the stores; the others (email, social, paid search) online
IN_STORE_CAMPAIGN = "in_store"
BASELINE_DAYS = 28
RFM_LOOKBACK_DAYS = 365


def ratio(numerator: Column, denominator: Column, digits: int = 4) -> Column:
    """numerator / denominator as a double rounded to ``digits``; NULL when the denominator is 0 or NULL."""
    return F.round(F.try_divide(numerator.cast("double"), denominator.cast("double")), digits)


def product_sales_daily(fact_sales: DataFrame) -> DataFrame:
    """gold.product_sales_daily: revenue, units and margin per store, product and day, all channels.

    Grain: one row per sale_date, store_id and product_id. (``gold.sales_daily``, per store and day
    from in-store sales only, stays the smoke job of ``spark_jobs/sales_daily.py``.) ``features_demand``
    reads its units rather than the sale lines.
    """
    # a line's category is its product version's on the sale day, one per product and day: a grouping
    # key, not a min(), which on strings would make Spark sort every line instead of hashing them
    return (fact_sales.groupBy("sale_date", "store_id", "product_id", "category")
            .agg(money(F.sum("revenue")).alias("revenue"), F.sum("quantity").cast("bigint").alias("units"),
                 F.count(F.lit(1)).alias("lines"), F.count_distinct("sale_id").alias("orders"),
                 money(F.sum("discount")).alias("discount"), money(F.sum("margin")).alias("margin"))
            .select("sale_date", "store_id", "product_id", "revenue", "units", "lines", "orders", "discount",
                    "margin", "category"))


def channel_performance(fact_sales: DataFrame, fact_web_sessions: DataFrame) -> DataFrame:
    """gold.channel_performance: sales per channel and day, with web and app traffic and conversion.

    Grain: one row per sale_date and channel (``store``, ``web``, ``app``). Sessions count visits of
    the devices of that channel (no visits for ``store``); ``conversion_rate`` is converted visits
    over visits. A day with visits but no delivered sale has zero revenue.
    """
    sales = fact_sales.groupBy("sale_date", "channel").agg(
        money(F.sum("revenue")).alias("revenue"), F.sum("quantity").cast("bigint").alias("units"),
        F.count(F.lit(1)).alias("lines"), F.count_distinct("sale_id").alias("orders"),
        F.count_distinct("customer_id").alias("customers"), money(F.sum("discount")).alias("discount"),
        money(F.sum("margin")).alias("margin"))
    visits = (fact_web_sessions.where(F.col("sales_channel").isNotNull())
              .groupBy(F.col("session_date").alias("sale_date"), F.col("sales_channel").alias("channel"))
              .agg(F.count(F.lit(1)).alias("sessions"), F.count(F.when(F.col("converted"), 1))
                   .alias("converted_sessions")))
    zero_money = F.lit(0).cast("decimal(12,2)")
    out = sales.join(visits, ["sale_date", "channel"], "full")
    return out.select(
        "sale_date", "channel",
        F.coalesce("revenue", zero_money).alias("revenue"), F.coalesce("units", F.lit(0).cast("bigint")).alias("units"),
        F.coalesce("lines", F.lit(0).cast("bigint")).alias("lines"),
        F.coalesce("orders", F.lit(0).cast("bigint")).alias("orders"),
        F.coalesce("customers", F.lit(0).cast("bigint")).alias("customers"),
        money(F.round(F.try_divide(F.col("revenue"), F.col("orders")), 2)).alias("avg_order_value"),
        F.coalesce("discount", zero_money).alias("discount"), F.coalesce("margin", zero_money).alias("margin"),
        F.when(F.col("channel") != STORE_CHANNEL, F.coalesce("sessions", F.lit(0).cast("bigint"))).alias("sessions"),
        F.when(F.col("channel") != STORE_CHANNEL, F.coalesce("converted_sessions", F.lit(0).cast("bigint")))
        .alias("converted_sessions"),
        ratio(F.col("converted_sessions"), F.col("sessions")).alias("conversion_rate"))


def campaign_effectiveness(fact_sales: DataFrame, dim_campaign: DataFrame, as_of: date,
                           baseline_days: int = BASELINE_DAYS) -> DataFrame:
    """gold.campaign_effectiveness: lift of each campaign over the weeks before it, and revenue per cost.

    Grain: one row per campaign that started on or before ``as_of``. A campaign's scope is its
    category (all categories when it has none) in its sales channels: in-store campaigns act on
    ``store`` sales, the others on ``web`` and ``app``. Over the campaign days up to ``as_of``:

    - ``revenue_lift``: daily revenue in scope over the daily revenue of the ``baseline_days``
      days before the start, minus 1 (days without sales count as zero);
    - ``incremental_revenue``: campaign revenue minus the baseline daily revenue times the days;
    - ``discount_cost``: discounts granted in scope (the contracts carry no campaign spend, so the
      money given away is the cost); ``revenue_per_cost``: campaign revenue over that cost;
    - ``attributed_orders`` / ``attributed_revenue``: online orders that carry the campaign id.
    """
    daily = (fact_sales.where(F.col("sale_date") <= F.lit(as_of))
             .groupBy("sale_date", "category", (F.col("channel") == STORE_CHANNEL).alias("in_store"))
             .agg(F.sum("revenue").alias("revenue"), F.sum("quantity").alias("units"),
                  F.sum("discount").alias("discount")))
    campaigns = (dim_campaign.where(F.col("starts_on") <= F.lit(as_of))
                 .withColumn("_end", F.least(F.col("ends_on"), F.lit(as_of)))
                 .withColumn("campaign_days", F.date_diff("_end", "starts_on") + 1))
    in_scope = ((F.col("d.in_store") == (F.col("c.channel") == IN_STORE_CAMPAIGN))
                & (F.col("c.category").isNull() | (F.col("d.category") == F.col("c.category")))
                & F.col("d.sale_date").between(F.date_sub(F.col("c.starts_on"), baseline_days), F.col("c._end")))
    during = F.col("d.sale_date") >= F.col("c.starts_on")
    joined = campaigns.alias("c").join(daily.alias("d"), in_scope, "left")
    zero = F.lit(0).cast("decimal(22,2)")
    per = joined.groupBy(*[F.col(f"c.{c}") for c in campaigns.columns]).agg(
        F.coalesce(F.sum(F.when(during, F.col("d.revenue"))), zero).alias("campaign_revenue"),
        F.coalesce(F.sum(F.when(during, F.col("d.units"))), F.lit(0)).cast("bigint").alias("campaign_units"),
        F.coalesce(F.sum(F.when(~during, F.col("d.revenue"))), zero).alias("baseline_revenue"),
        F.coalesce(F.sum(F.when(during, F.col("d.discount"))), zero).alias("discount_cost"))
    attributed = (fact_sales.where(F.col("campaign_id").isNotNull() & (F.col("sale_date") <= F.lit(as_of)))
                  .groupBy("campaign_id")
                  .agg(F.count_distinct("sale_id").alias("attributed_orders"),
                       F.sum("revenue").alias("attributed_revenue")))
    per = per.join(attributed, "campaign_id", "left")
    campaign_daily = F.col("campaign_revenue") / F.col("campaign_days")
    baseline_daily = F.col("baseline_revenue") / F.lit(baseline_days)
    return per.select(
        "campaign_id", "name", "channel", "category", "discount_pct", "starts_on", "ends_on", "campaign_days",
        money(F.col("campaign_revenue")).alias("campaign_revenue"), "campaign_units",
        money(F.round(campaign_daily, 2)).alias("campaign_daily_revenue"),
        money(F.round(baseline_daily, 2)).alias("baseline_daily_revenue"),
        # the daily means' ratio from the exact totals: a quotient of two rounded decimal means loses
        # digits when the baseline is small
        F.round(ratio(F.col("campaign_revenue") * F.lit(baseline_days),
                      F.col("baseline_revenue") * F.col("campaign_days"), 10) - 1, 4).alias("revenue_lift"),
        money(F.round(F.col("campaign_revenue") - baseline_daily * F.col("campaign_days"), 2))
        .alias("incremental_revenue"),
        money(F.col("discount_cost")).alias("discount_cost"),
        ratio(F.col("campaign_revenue"), F.col("discount_cost")).alias("revenue_per_cost"),
        F.coalesce("attributed_orders", F.lit(0).cast("bigint")).alias("attributed_orders"),
        money(F.coalesce(F.col("attributed_revenue"), zero)).alias("attributed_revenue"),
        F.lit(as_of).alias("as_of_date"))


def customer_sales_daily(fact_sales: DataFrame) -> DataFrame:
    """gold.customer_sales_daily: a loyalty customer's sales per day, store, channel and category.

    Grain: one row per sale_date, customer_id, store_id, channel and category (NULL: a product the
    master data did not know). The as-of customer tables (``customer_segments``,
    ``customer_profiles``, ``features_churn``) read this instead of every sale line of their history,
    so a daily run adds one day of it instead of re-reading every line. Every column adds up over
    any grouping of rows, ``purchases`` too: a receipt (or order) is counted once per day it has
    lines on, on that day's row of its smallest category. A receipt has one store and channel and
    may span categories; its lines nearly always share a day, but a line whose till time falls
    after midnight (a late or reordered event) dates it to the next day as well. Counting per day
    keeps a day's rows independent of the other days, so rebuilding one day never recounts another.
    """
    sales = fact_sales.where(F.col("customer_id").isNotNull())
    # the category each receipt is counted under on a day: its smallest, NULL only when it has no known one
    counted = sales.groupBy("sale_id", "sale_date").agg(F.min("category").alias("_counted_category"))
    lines = sales.join(counted, ["sale_id", "sale_date"]).withColumn(
        "_counts", F.col("category").eqNullSafe(F.col("_counted_category")))
    return lines.groupBy("sale_date", "customer_id", "store_id", "channel", "category").agg(
        F.count_distinct(F.when(F.col("_counts"), F.col("sale_id"))).alias("purchases"),
        F.count(F.lit(1)).alias("lines"), F.sum("quantity").cast("bigint").alias("units"),
        money(F.sum("revenue")).alias("revenue"), F.min("sold_at").alias("first_sold_at"),
        F.max("sold_at").alias("last_sold_at"))


def _score(order: Column) -> Column:
    """1..5 by quintile of ``order`` (ascending = better) over all customers; ties share a score."""
    pr = F.percent_rank().over(Window.orderBy(order))
    return F.least(F.lit(5), (F.floor(pr * 5) + 1).cast("int"))


RFM_SEGMENTS = (  # (segment, condition on r and f scores), first match wins
    ("champions", "r >= 4 and f >= 4"),
    ("loyal", "r >= 3 and f >= 3"),
    ("promising", "r >= 4"),
    ("at_risk", "r <= 2 and f >= 3"),
    ("hibernating", "r <= 2"),
)


def customer_segments(customer_sales: DataFrame, as_of: date, lookback_days: int = RFM_LOOKBACK_DAYS) -> DataFrame:
    """gold.customer_segments: RFM scores and segments as of a day, from ``customer_sales_daily`` rows.

    Grain: one row per customer with a purchase in the ``lookback_days`` up to ``as_of``.
    ``recency_days`` since the last purchase day, ``frequency`` purchases (receipts and orders,
    per day as ``customer_sales_daily`` counts them), ``monetary`` revenue; each scored 1-5 by
    quintile among these customers (5 = most recent, most frequent, highest spend), ties sharing a
    score. The segment follows :data:`RFM_SEGMENTS` on the R and F scores, else ``needs_attention``.
    """
    window = (F.col("sale_date") <= F.lit(as_of)) & (F.col("sale_date") > F.date_sub(F.lit(as_of), lookback_days))
    rfm = (customer_sales.where(window)
           .groupBy("customer_id")
           .agg(F.max("sale_date").alias("last_purchase_date"), F.sum("purchases").cast("bigint").alias("frequency"),
                money(F.sum("revenue")).alias("monetary"))
           .withColumn("recency_days", F.date_diff(F.lit(as_of), "last_purchase_date")))
    scored = (rfm.withColumn("r", _score(F.col("recency_days").desc()))
              .withColumn("f", _score(F.col("frequency").asc()))
              .withColumn("m", _score(F.col("monetary").asc())))
    segment = F.lit("needs_attention")
    for name, cond in reversed(RFM_SEGMENTS):
        segment = F.when(F.expr(cond), name).otherwise(segment)
    return scored.select(
        "customer_id", F.lit(as_of).alias("as_of_date"), "last_purchase_date", "recency_days", "frequency",
        "monetary", F.col("r").alias("r_score"), F.col("f").alias("f_score"), F.col("m").alias("m_score"),
        F.concat(F.col("r").cast("string"), F.col("f").cast("string"), F.col("m").cast("string")).alias("rfm_cell"),
        segment.alias("segment"))


def _favourite(customer_sales: DataFrame, column: str, measure: str, alias: str) -> DataFrame:
    """Per customer, the ``column`` value with the largest sum of ``measure`` (ties: the smallest value)."""
    ranked = (customer_sales.where(F.col(column).isNotNull()).groupBy("customer_id", column)
              .agg(F.sum(measure).alias("_m"))
              .withColumn("_n", F.row_number().over(
                  Window.partitionBy("customer_id").orderBy(F.col("_m").desc(), F.col(column).asc()))))
    return ranked.where("_n = 1").select("customer_id", F.col(column).alias(alias))


def customer_profiles(customer_sales: DataFrame, fact_feedback: DataFrame, fact_web_sessions: DataFrame,
                      dim_customer: DataFrame, as_of: date) -> DataFrame:
    """gold.customer_profiles: what each loyalty customer bought, where, how, and what they said, up to ``as_of``.

    Grain: one row per customer_id of the current ``dim_customer`` (customers without activity
    have zero totals). Sales come from ``customer_sales_daily`` rows. Favourite category by
    revenue, favourite store by purchases (ties: the smallest id); channel mix as revenue shares;
    ``last_seen_at`` the latest purchase, review or visit.
    """
    until = F.lit(as_of)
    sales = customer_sales.where(F.col("sale_date") <= until)
    totals = sales.groupBy("customer_id").agg(
        F.sum("purchases").cast("bigint").alias("purchases"), F.sum("lines").cast("bigint").alias("lines"),
        F.sum("units").cast("bigint").alias("units"), F.sum("revenue").alias("_revenue"),
        F.min("first_sold_at").alias("first_purchase_at"), F.max("last_sold_at").alias("last_purchase_at"),
        *[F.sum(F.when(F.col("channel") == ch, F.col("revenue"))).alias(f"_{ch}") for ch in (STORE_CHANNEL, "web",
                                                                                            "app")])
    reviews = (fact_feedback.where(F.col("customer_id").isNotNull() & (F.col("review_date") <= until))
               .groupBy("customer_id").agg(F.count(F.lit(1)).alias("reviews"),
                                           F.round(F.avg("rating"), 2).alias("avg_rating"),
                                           F.max("reviewed_at").alias("last_review_at")))
    visits = (fact_web_sessions.where(F.col("customer_id").isNotNull() & (F.col("session_date") <= until))
              .groupBy("customer_id").agg(F.count(F.lit(1)).alias("web_sessions"),
                                          F.max("ended_at").alias("last_visit_at")))
    customers = dim_customer.where("is_current").select("customer_id", "segment", "city", "signed_up_on")
    out = (customers.join(totals, "customer_id", "left").join(reviews, "customer_id", "left")
           .join(visits, "customer_id", "left")
           .join(_favourite(sales, "category", "revenue", "favourite_category"), "customer_id", "left")
           .join(_favourite(sales, "store_id", "purchases", "favourite_store_id"), "customer_id", "left"))
    revenue = F.coalesce(F.col("_revenue"), F.lit(0))
    zero = F.lit(0).cast("bigint")
    return out.select(
        "customer_id", "segment", "city", "signed_up_on", F.lit(as_of).alias("as_of_date"),
        F.coalesce("purchases", zero).alias("purchases"), F.coalesce("lines", zero).alias("lines"),
        F.coalesce("units", zero).alias("units"), money(revenue).alias("revenue"),
        money(F.round(F.try_divide(F.col("_revenue"), F.col("purchases")), 2)).alias("avg_purchase_value"),
        "first_purchase_at", "last_purchase_at", "favourite_category", "favourite_store_id",
        *[ratio(F.coalesce(F.col(f"_{ch}"), F.lit(0)), F.col("_revenue")).alias(f"{ch}_revenue_share")
          for ch in (STORE_CHANNEL, "web", "app")],
        F.coalesce("reviews", zero).alias("reviews"), "avg_rating",
        F.coalesce("web_sessions", zero).alias("web_sessions"),
        F.greatest("last_purchase_at", "last_review_at", "last_visit_at").alias("last_seen_at"))
