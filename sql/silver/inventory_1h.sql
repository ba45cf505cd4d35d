-- grain: one row per (store_id, product_id, window_start); {source} is the deduplicated, on-time-or-late
-- inventory_updates (late ones included up to the contract's 48 hours)
-- hw_window_start: the hourly UTC window holding the event (flink_jobs/java/headwater/flink/WindowStart.java)
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
  select *, hw_window_start(counted_at, 60) as window_start
  from {source}
)
group by store_id, product_id, window_start
