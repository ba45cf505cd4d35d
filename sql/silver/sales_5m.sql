-- grain: one row per (store_id, window_start); {source} is the deduplicated, on-time-or-late pos_sales
select
  store_id,
  window_start,
  timestampadd(minute, 5, window_start) as window_end,
  cast(sum(quantity * unit_price - discount) as decimal(14, 2)) as revenue,
  cast(sum(quantity) as bigint) as units,
  count(distinct sale_id) as receipts,
  count(*) as lines
from (
  select
    *,
    cast(timestampadd(minute, -mod(extract(minute from cast(sold_at as timestamp(3))), 5),
                      floor(cast(sold_at as timestamp(3)) to minute)) as timestamp_ltz(3)) as window_start
  from {source}
)
group by store_id, window_start
