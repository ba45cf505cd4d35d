-- grain: one row per (store_id, window_start); {source} is the deduplicated, on-time-or-late pos_sales
-- hw_window_start: the 5-minute UTC window holding the event (flink_jobs/java/headwater/flink/WindowStart.java)
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
    hw_window_start(sold_at, 5) as window_start
  from {source}
)
group by store_id, window_start
