-- daily revenue per city over the last 28 days beside the day's weather in that city
with daily as (
  select a.sale_date, s.city, sum(a.revenue) as revenue, sum(a.units) as units
  from iceberg.gold.product_sales_daily a
  join iceberg.gold.dim_store s
    on s.store_id = a.store_id and s.valid_from <= a.sale_date and a.sale_date < s.valid_to
  where a.sale_date >= current_date - interval '28' day
  group by a.sale_date, s.city
)
select d.sale_date, d.city, d.revenue, d.units, w.condition, w.temp_max_c, w.precipitation_mm, w.is_wet
from daily d
left join iceberg.gold.dim_weather w on w.city = d.city and w.date = d.sale_date
order by d.sale_date, d.city
