"""Gold ML features, point-in-time correct: a row for day (or hour) T uses data up to T only; labels look ahead.

Labels whose horizon is not fully inside the data (``data_end``) are NULL rather than a guess, so
a training set filters ``label is not null`` and a scoring set takes the newest rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.gold.facts import as_of_join

DEMAND_LAGS = (1, 7, 14, 28)
DEMAND_WINDOWS = (7, 28)
EQUIPMENT_HORIZON_HOURS = 24
CHURN_HORIZON_DAYS = 30
#: days after the as-of day in which a purchase makes an interaction's label true
INTERACTIONS_HORIZON_DAYS = 7
#: days up to and including the as-of day whose interactions count
INTERACTIONS_LOOKBACK_DAYS = 90
INTERACTION_WEIGHTS = {"views": 1, "add_to_carts": 3, "purchases": 5}


def _iso_dow(c: Column) -> Column:
    d = F.dayofweek(c)  # 1 = Sunday
    return F.when(d == 1, 7).otherwise(d - 1)


def features_demand(product_sales_daily: DataFrame, dim_product: DataFrame, dim_store: DataFrame,
                    dim_weather: DataFrame, dim_campaign: DataFrame, start: date, end: date) -> DataFrame:
    """gold.features_demand: demand history, weather, promotions and calendar per store, product and day.

    Grain: one row per store_id, product_id (pairs that sold anywhere in the input) and day D in
    ``[start, end]``, days without sales included with 0 units. Features use days up to D:
    ``units`` (D), ``units_lag_k`` (D-k), rolling means and standard deviations of the last 7 and
    28 days ending on D, D's weather in the store's city of that day, the product's list price on D,
    promotions running on D, the calendar of D and of D+1. Campaigns are published two weeks ahead
    (landing files), so ``promo_next_day`` is known on D. Label ``label_units_next_day``: units on
    D+1, NULL for D = ``end``; ``end`` is the last complete day. It reads ``gold.product_sales_daily``
    rows (units per store, product and day, all channels) from ``start`` - 28 days to ``end``, not
    the sale lines behind them (the grid fills the days in between with zeros).
    """
    history_start = start - timedelta(days=max(*DEMAND_LAGS, *DEMAND_WINDOWS))
    in_range = F.col("sale_date").between(F.lit(history_start), F.lit(end))
    daily = product_sales_daily.where(in_range).select("store_id", "product_id", "sale_date",
                                                        F.col("units").cast("bigint").alias("units"))
    pairs = daily.select("store_id", "product_id").distinct()
    days = product_sales_daily.sparkSession.range(1).select(
        F.explode(F.sequence(F.lit(history_start), F.lit(end))).alias("sale_date"))
    # a dense grid: lags and windows count days, not rows with sales
    grid = (pairs.crossJoin(days).join(daily, ["store_id", "product_id", "sale_date"], "left")
            .withColumn("units", F.coalesce("units", F.lit(0).cast("bigint"))))
    w = Window.partitionBy("store_id", "product_id").orderBy("sale_date")
    feats = grid.select(
        "store_id", "product_id", "sale_date", "units",
        *[F.lag("units", k).over(w).alias(f"units_lag_{k}") for k in DEMAND_LAGS],
        *[F.round(F.avg("units").over(w.rowsBetween(1 - n, 0)), 4).alias(f"units_mean_{n}d") for n in DEMAND_WINDOWS],
        *[F.round(F.stddev_samp("units").over(w.rowsBetween(1 - n, 0)), 4).alias(f"units_std_{n}d")
          for n in DEMAND_WINDOWS],
        # the grid ends on `end`: the label of the last day is NULL, not a zero
        F.lead("units", 1).over(w).alias("label_units_next_day"))
    feats = feats.where(F.col("sale_date").between(F.lit(start), F.lit(end)))
    feats = as_of_join(feats, dim_store, "store_id", "sale_date", {"city": "city"})
    feats = as_of_join(feats, dim_product, "product_id", "sale_date", {"category": "category",
                                                                        "unit_price": "list_price"})
    weather = dim_weather.select(F.col("city").alias("_w_city"), F.col("date").alias("_w_date"), "temp_max_c",
                                 "temp_min_c", "precipitation_mm", F.col("condition").alias("weather_condition"))
    feats = feats.join(weather, (F.col("city") == F.col("_w_city")) & (F.col("sale_date") == F.col("_w_date")),
                       "left").drop("_w_city", "_w_date")
    feats = _promotions(feats, dim_campaign)
    next_day = F.date_add("sale_date", 1)
    return feats.select(
        "store_id", "product_id", "sale_date", "city", "category", "list_price", "units",
        *[f"units_lag_{k}" for k in DEMAND_LAGS], *[f"units_mean_{n}d" for n in DEMAND_WINDOWS],
        *[f"units_std_{n}d" for n in DEMAND_WINDOWS],
        "temp_max_c", "temp_min_c", "precipitation_mm", "weather_condition", "promo_today", "promo_next_day",
        "promo_discount_pct", _iso_dow(F.col("sale_date")).alias("day_of_week"),
        F.month("sale_date").alias("month"), (_iso_dow(F.col("sale_date")) >= 6).alias("is_weekend"),
        _iso_dow(next_day).alias("next_day_of_week"), (_iso_dow(next_day) >= 6).alias("next_day_is_weekend"),
        "label_units_next_day")


def _promotions(feats: DataFrame, dim_campaign: DataFrame) -> DataFrame:
    """Flags of campaigns on the product's category (or on everything) running on D and on D+1."""
    c = dim_campaign.select(F.col("category").alias("_c_category"), "starts_on", "ends_on", "discount_pct")
    keys = ["store_id", "product_id", "sale_date"]
    scoped = (F.col("_c_category").isNull() | (F.col("_c_category") == F.col("category")))
    running = F.col("sale_date").between(F.col("starts_on"), F.col("ends_on"))
    tomorrow = F.date_add("sale_date", 1).between(F.col("starts_on"), F.col("ends_on"))
    flags = (feats.select(*keys, "category").join(c, scoped & (running | tomorrow))
             .groupBy(*keys).agg(F.max(running).alias("promo_today"), F.max(tomorrow).alias("promo_next_day"),
                                 F.max(F.when(running, F.col("discount_pct"))).alias("promo_discount_pct")))
    return (feats.join(flags, keys, "left")
            .withColumn("promo_today", F.coalesce("promo_today", F.lit(False)))
            .withColumn("promo_next_day", F.coalesce("promo_next_day", F.lit(False)))
            .withColumn("promo_discount_pct", F.coalesce("promo_discount_pct", F.lit(0))))


def features_equipment(fact_equipment_hourly: DataFrame, dim_equipment: DataFrame,
                       horizon_hours: int = EQUIPMENT_HORIZON_HOURS) -> DataFrame:
    """gold.features_equipment: a device's recent behaviour and the label "a failure starts within 24 h".

    Grain: one row per device_id and hour with readings (``hour_start``). Features use hours up to
    and including that hour: 6 h and 24 h rolling statistics of the hourly means, abnormal readings
    (warning or fault) in the last 24 h, ``hours_since_maintenance``: since the end of the device's
    last fault hour, taken as its repair (0 during a fault), or since installation when it never
    failed (the contracts have no maintenance log). Label ``label_failure_next_24h``: a fault starts
    (a fault hour after an hour without one) in the following ``horizon_hours`` hours; NULL when
    those hours pass the last hour in the input.
    """
    h = F.unix_seconds("hour_start")
    w = Window.partitionBy("device_id").orderBy(h)

    def past(hours: int) -> Window:
        return w.rangeBetween(-(hours - 1) * 3600, 0)

    fault = (F.col("fault_readings") > 0).cast("int")
    base = (fact_equipment_hourly.withColumn("_h", h).withColumn("_fault", fault)
            .withColumn("_prev_fault", F.max("_fault").over(w.rangeBetween(-3600, -3600))))
    base = base.withColumn("_fault_start", ((F.col("_fault") == 1) & (F.coalesce("_prev_fault", F.lit(0)) == 0))
                           .cast("int"))
    last_hour = base.agg(F.max("_h").alias("_last_h"))
    installed = dim_equipment.select("device_id", "installed_on")
    # a repair is taken to end the last fault hour; a device that never failed counts from installation
    last_fault = F.max(F.when(F.col("_fault") == 1, F.col("_h"))).over(w.rangeBetween(Window.unboundedPreceding, 0))
    since = F.coalesce(last_fault + 3600, F.unix_seconds(F.to_timestamp("installed_on")))
    out = (base.join(installed, "device_id", "left").crossJoin(last_hour)
           .select(
               "device_id", "store_id", "device_type", "hour_start", "readings", "temperature_mean_c",
               "vibration_max_mm_s", "power_mean_kw", F.col("_fault").cast("boolean").alias("in_fault"),
               F.round(F.avg("temperature_mean_c").over(past(6)), 3).alias("temperature_mean_6h"),
               F.round(F.avg("temperature_mean_c").over(past(24)), 3).alias("temperature_mean_24h"),
               F.round(F.stddev_samp("temperature_mean_c").over(past(24)), 3).alias("temperature_std_24h"),
               F.round(F.avg("vibration_mean_mm_s").over(past(6)), 3).alias("vibration_mean_6h"),
               F.max("vibration_max_mm_s").over(past(24)).alias("vibration_max_24h"),
               F.round(F.avg("power_mean_kw").over(past(24)), 3).alias("power_mean_24h"),
               F.sum(F.col("warning_readings") + F.col("fault_readings")).over(past(24)).cast("bigint")
               .alias("abnormal_readings_24h"),
               F.count(F.lit(1)).over(past(24)).alias("hours_observed_24h"),
               F.greatest(F.lit(0), F.floor((F.col("_h") - since) / 3600)).cast("bigint")
               .alias("hours_since_maintenance"),
               F.when(F.col("_h") + horizon_hours * 3600 <= F.col("_last_h"),
                      F.coalesce(F.max("_fault_start").over(w.rangeBetween(3600, horizon_hours * 3600)),
                                 F.lit(0)).cast("boolean")).alias("label_failure_next_24h")))
    return out


def features_churn(customer_sales: DataFrame, observation_dates: Sequence[date], data_end: date | None = None,
                   horizon_days: int = CHURN_HORIZON_DAYS) -> DataFrame:
    """gold.features_churn: recency, frequency and monetary levels and trends; label: no purchase in 30 days.

    Grain: one row per customer and observation day D, for customers with a purchase in the 365
    days up to D. Features use purchases up to D: ``recency_days``, purchases and revenue in the
    last 30 days, the 30 before those and the last 90, their trends (last 30 minus previous 30),
    ``tenure_days`` since the first purchase in the input. Label ``label_churned``: no purchase on
    days D+1 .. D+``horizon_days``; NULL when that horizon passes ``data_end`` (default: the last
    sale day in the input).
    """
    spark = customer_sales.sparkSession
    obs = spark.createDataFrame([(d,) for d in observation_dates], "obs_date date")
    daily = (customer_sales.groupBy("customer_id", "sale_date")
             .agg(F.sum("purchases").alias("purchases"), F.sum("revenue").alias("revenue")))
    ends = (spark.createDataFrame([(data_end,)], "_end date") if data_end
            else daily.agg(F.max("sale_date").alias("_end")))
    first = daily.groupBy("customer_id").agg(F.min("sale_date").alias("first_purchase_date"))
    age = F.date_diff(F.col("obs_date"), F.col("sale_date"))  # days before D (negative: after D)
    joined = daily.join(F.broadcast(obs), (age >= -horizon_days) & (age < 365))

    def between(lo: int, hi: int, value: str) -> Column:  # days before D in [lo, hi]
        return F.sum(F.when(age.between(lo, hi), F.col(value)).otherwise(0))

    per = joined.groupBy("customer_id", "obs_date").agg(
        F.max(F.when(age >= 0, F.col("sale_date"))).alias("last_purchase_date"),
        between(0, 29, "purchases").alias("purchases_30d"), between(30, 59, "purchases").alias("purchases_prev_30d"),
        between(0, 89, "purchases").alias("purchases_90d"), between(0, 364, "purchases").alias("purchases_365d"),
        between(0, 29, "revenue").alias("revenue_30d"), between(30, 59, "revenue").alias("revenue_prev_30d"),
        between(0, 89, "revenue").alias("revenue_90d"),
        between(-horizon_days, -1, "purchases").alias("_future_purchases"))
    per = per.where(F.col("last_purchase_date").isNotNull()).join(first, "customer_id").crossJoin(ends)
    money = "decimal(12,2)"
    return per.select(
        "customer_id", "obs_date", "last_purchase_date",
        F.date_diff("obs_date", "last_purchase_date").alias("recency_days"),
        F.date_diff("obs_date", "first_purchase_date").alias("tenure_days"),
        F.col("purchases_30d").cast("bigint").alias("purchases_30d"),
        F.col("purchases_prev_30d").cast("bigint").alias("purchases_prev_30d"),
        F.col("purchases_90d").cast("bigint").alias("purchases_90d"),
        F.col("purchases_365d").cast("bigint").alias("purchases_365d"),
        (F.col("purchases_30d") - F.col("purchases_prev_30d")).cast("bigint").alias("purchases_trend"),
        F.col("revenue_30d").cast(money).alias("revenue_30d"),
        F.col("revenue_prev_30d").cast(money).alias("revenue_prev_30d"),
        F.col("revenue_90d").cast(money).alias("revenue_90d"),
        (F.col("revenue_30d") - F.col("revenue_prev_30d")).cast(money).alias("revenue_trend"),
        F.round(F.try_divide(F.col("revenue_90d"), F.col("purchases_90d")), 2).cast(money)
        .alias("avg_purchase_value_90d"),
        F.when(F.date_add("obs_date", horizon_days) <= F.col("_end"), F.col("_future_purchases") == 0)
        .alias("label_churned"))


#: an interaction's key, and its counts (which add up over days)
PAIR = ("customer_id", "product_id")
#: the columns of fact_sales and of Silver clickstream the interaction features read
INTERACTION_SALE_COLUMNS = (*PAIR, "sale_date", "sold_at", "quantity")
INTERACTION_CLICK_COLUMNS = (*PAIR, "occurred_at", "event_type")
_COUNTS = ("views", "add_to_carts", "remove_from_carts", "purchases", "units_bought")


def features_interactions(fact_sales: DataFrame, clickstream: DataFrame, as_of: date, data_end: date | None = None,
                          lookback_days: int = INTERACTIONS_LOOKBACK_DAYS,
                          horizon_days: int = INTERACTIONS_HORIZON_DAYS) -> DataFrame:
    """gold.features_interactions: implicit feedback of customer x product for a recommender, as of a day.

    Grain: one row per customer_id and product_id with an interaction (product view, add to cart,
    purchase) in the ``lookback_days`` up to ``as_of``. ``implicit_score`` weighs views 1, adds to
    cart 3, purchased lines 5 (:data:`INTERACTION_WEIGHTS`). Label ``label_purchased_next_7d``: the
    customer buys the product on days ``as_of``+1 .. +``horizon_days``; NULL when that passes
    ``data_end`` (default: the last sale day in the input).
    """
    lo = F.date_sub(F.lit(as_of), lookback_days - 1)
    counts = _interaction_counts(fact_sales, clickstream, lo, F.lit(as_of))
    return _interaction_rows(counts, fact_sales, as_of, data_end, horizon_days)


def features_interactions_fold(previous: DataFrame, fact_sales: DataFrame, clickstream: DataFrame, as_of: date,
                               data_end: date | None = None, lookback_days: int = INTERACTIONS_LOOKBACK_DAYS,
                               horizon_days: int = INTERACTIONS_HORIZON_DAYS) -> DataFrame:
    """:func:`features_interactions` as of ``as_of`` from ``previous``, its rows as of the day before on the same
    inputs: the interactions of ``as_of`` are added and those of the day leaving the lookback taken out.

    Equal to building the day from all its lookback when ``previous`` is current, and it aggregates one
    day of inputs instead of ``lookback_days``. Counts add up, but the latest interaction is a maximum,
    which cannot be taken back: the pairs with an interaction on the leaving day are counted again
    over the whole lookback (none while the history is shorter than the lookback; the inputs are still
    scanned for them).
    """
    day = F.lit(as_of)
    leaving = F.date_sub(day, lookback_days)
    left = _interaction_counts(fact_sales, clickstream, leaving, leaving).select(*PAIR)
    recounted = _interaction_counts(fact_sales.join(left, list(PAIR), "left_semi"),
                                    clickstream.join(left, list(PAIR), "left_semi"),
                                    F.date_sub(day, lookback_days - 1), day)
    carried = previous.join(left, list(PAIR), "left_anti").select(
        *PAIR, *_COUNTS, F.col("last_interaction_at").alias("_last_click_at"),
        F.lit(None).cast("timestamp").alias("_last_bought_at"))
    today = _interaction_counts(fact_sales, clickstream, day, day).join(left, list(PAIR), "left_anti")
    t = today.select(*PAIR, *[F.col(c).alias(f"_t_{c}") for c in (*_COUNTS, "_last_click_at", "_last_bought_at")])
    zero = F.lit(0).cast("bigint")
    folded = carried.join(t, list(PAIR), "full").select(
        *PAIR, *[(F.coalesce(c, zero) + F.coalesce(f"_t_{c}", zero)).alias(c) for c in _COUNTS],
        F.greatest("_last_click_at", "_t__last_click_at", "_t__last_bought_at").alias("_last_click_at"),
        F.col("_last_bought_at"))
    return _interaction_rows(folded.unionByName(recounted), fact_sales, as_of, data_end, horizon_days)


def features_interactions_changes(snapshot: DataFrame, fact_sales: DataFrame, clickstream: DataFrame,
                                  pairs: DataFrame | None, as_of: date, data_end: date | None,
                                  lookback_days: int = INTERACTIONS_LOOKBACK_DAYS,
                                  horizon_days: int = INTERACTIONS_HORIZON_DAYS) -> DataFrame:
    """The changes that bring ``snapshot`` (a day's :func:`features_interactions` rows as the table holds them) up
    to date when only the sale lines and clicks of ``pairs`` (customer_id, product_id) changed since it was built.

    A row depends on its own pair's lines and clicks, and on ``data_end`` through whether its label is known. The
    rows of ``pairs`` are built again from their inputs (``_op`` ``upsert``), and those of ``snapshot`` among
    ``pairs`` that no longer have an interaction are deleted (``_op`` ``delete``); the other rows stay as they
    are. ``pairs`` None: every pair (when whether the day's labels are known changed, every row changes).
    ``data_end`` is the last sale day of every line (not only the pairs'), as the full build sees it: None when
    there is none, where no label is known.
    """
    if pairs is not None:
        fact_sales = fact_sales.join(pairs, list(PAIR), "left_semi")
        clickstream = clickstream.join(pairs, list(PAIR), "left_semi")
        snapshot = snapshot.join(pairs, list(PAIR), "left_semi")
    # without any sale there is no end, so no label: any day before the horizon's last says so alike
    end = as_of if data_end is None else data_end
    rows = features_interactions(fact_sales, clickstream, as_of, end, lookback_days, horizon_days)
    gone = snapshot.where(F.col("as_of_date") == F.lit(as_of)).join(rows.select(*PAIR), list(PAIR), "left_anti")
    return rows.withColumn("_op", F.lit("upsert")).unionByName(gone.withColumn("_op", F.lit("delete")))


def _interaction_counts(fact_sales: DataFrame, clickstream: DataFrame, lo: Column, hi: Column) -> DataFrame:
    """Per customer and product with an interaction on days ``lo`` .. ``hi``: its counts, latest click and purchase."""
    clicks = (clickstream.where(F.col("customer_id").isNotNull() & F.col("product_id").isNotNull()
                                & F.to_date("occurred_at").between(lo, hi))
              .groupBy(*PAIR)
              .agg(F.count(F.when(F.col("event_type") == "product_view", 1)).alias("views"),
                   F.count(F.when(F.col("event_type") == "add_to_cart", 1)).alias("add_to_carts"),
                   F.count(F.when(F.col("event_type") == "remove_from_cart", 1)).alias("remove_from_carts"),
                   F.max(F.when(F.col("event_type").isin("product_view", "add_to_cart"), F.col("occurred_at")))
                   .alias("_last_click_at")))
    past = (fact_sales.where(F.col("customer_id").isNotNull() & F.col("sale_date").between(lo, hi))
            .groupBy(*PAIR)
            .agg(F.count(F.lit(1)).alias("purchases"), F.sum("quantity").cast("bigint").alias("units_bought"),
                 F.max("sold_at").alias("_last_bought_at")))
    return clicks.join(past, list(PAIR), "full")


def _interaction_rows(counts: DataFrame, fact_sales: DataFrame, as_of: date, data_end: date | None,
                      horizon_days: int) -> DataFrame:
    """The table's rows from :func:`_interaction_counts`-shaped ``counts``: scores, recency and the label."""
    bought = fact_sales.where(F.col("customer_id").isNotNull())
    future = (bought.where(F.col("sale_date").between(F.date_add(F.lit(as_of), 1),
                                                      F.date_add(F.lit(as_of), horizon_days)))
              .select(*PAIR).distinct().withColumn("_bought_later", F.lit(True)))
    ends = (fact_sales.sparkSession.createDataFrame([(data_end,)], "_end date") if data_end
            else fact_sales.agg(F.max("sale_date").alias("_end")))
    zero = F.lit(0).cast("bigint")
    pairs = counts.join(future, list(PAIR), "left").crossJoin(ends)
    counted = {c: F.coalesce(c, zero) for c in _COUNTS}
    score = sum((counted[c] * w for c, w in INTERACTION_WEIGHTS.items()), F.lit(0))
    last_at = F.greatest("_last_click_at", "_last_bought_at")
    return pairs.select(
        *PAIR, F.lit(as_of).alias("as_of_date"),
        *[v.alias(c) for c, v in counted.items()], score.cast("bigint").alias("implicit_score"),
        last_at.alias("last_interaction_at"), F.date_diff(F.lit(as_of), F.to_date(last_at)).alias("days_since_last"),
        F.when(F.date_add(F.lit(as_of), horizon_days) <= F.col("_end"), F.coalesce("_bought_later", F.lit(False)))
        .alias("label_purchased_next_7d"))
