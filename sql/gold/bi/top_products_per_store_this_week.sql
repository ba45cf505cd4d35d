-- top 5 products by revenue in each store since monday (utc), all channels
with week as (
  select store_id, product_id, sum(revenue) as revenue, sum(units) as units
  from iceberg.gold.product_sales_daily
  where sale_date >= date_trunc('week', current_date)
  group by store_id, product_id
), ranked as (
  select w.*, row_number() over (partition by store_id order by revenue desc, product_id) as rank
  from week w
)
select s.name as store, r.rank, p.name as product, p.category, r.units, r.revenue
from ranked r
join iceberg.gold.dim_store s on s.store_id = r.store_id and s.is_current
join iceberg.gold.dim_product p on p.product_id = r.product_id and p.is_current
where r.rank <= 5
order by store, r.rank
