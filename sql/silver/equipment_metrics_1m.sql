-- grain: one row per (device_id, window_start); {source} is the deduplicated, on-time-or-late equipment_metrics
-- hw_window_start: the 1-minute UTC window holding the event (flink_jobs/java/headwater/flink/WindowStart.java)
select
  device_id,
  window_start,
  timestampadd(minute, 1, window_start) as window_end,
  max(store_id) as store_id,
  max(device_type) as device_type,
  count(*) as readings,
  avg(temperature_c) as temperature_mean_c,
  max(temperature_c) as temperature_max_c,
  avg(power_kw) as power_mean_kw,
  max(vibration_mm_s) as vibration_max_mm_s,
  max(case when status <> 'ok' then 1 else 0 end) = 1 or max(vibration_mm_s) > 6 as anomaly
from (
  select *, hw_window_start(read_at, 1) as window_start
  from {source}
)
group by device_id, window_start
