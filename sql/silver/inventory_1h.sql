-- grain: one row per (store_id, product_id, window_start); {source} is the deduplicated, on-time-or-late
-- inventory_updates (late ones included up to the contract's 48 hours)
select
  store_id,
  product_id,
  window_start,
  timestampadd(hour, 1, window_start) as window_end,
  cast(sum(case when update_type = 'delivery' then quantity else 0 end) as bigint) as delivered_units,
  cast(sum(case when update_type = 'waste' then quantity else 0 end) as bigint) as wasted_units,
  cast(sum(case when update_type = 'count' then 1 else 0 end) as bigint) as stock_counts,
  max(case when update_type = 'count' then quantity end) as max_counted_units,
  count(*) as updates
from (
  select *, cast(floor(cast(counted_at as timestamp(3)) to hour) as timestamp_ltz(3)) as window_start
  from {source}
)
group by store_id, product_id, window_start
