-- devices whose newest hour shows abnormal readings, rising vibration or an ongoing fault
with latest as (
  select f.*, row_number() over (partition by device_id order by hour_start desc) as n
  from iceberg.gold.features_equipment f
)
select l.device_id, e.device_type, e.model, s.name as store, l.hour_start, l.in_fault,
       l.abnormal_readings_24h, l.vibration_mean_6h, l.vibration_max_24h, l.temperature_mean_6h,
       l.hours_since_maintenance
from latest l
join iceberg.gold.dim_equipment e on e.device_id = l.device_id
left join iceberg.gold.dim_store s on s.store_id = l.store_id and s.is_current
where l.n = 1 and (l.in_fault or l.abnormal_readings_24h > 0)
order by l.in_fault desc, l.abnormal_readings_24h desc, l.vibration_max_24h desc
