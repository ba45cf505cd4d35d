-- return of each campaign as of the newest build: revenue per discount given, lift over its baseline
select c.campaign_id, c.name, c.channel, coalesce(c.category, 'all') as category, c.starts_on, c.ends_on,
       c.campaign_revenue, c.discount_cost, c.revenue_per_cost, c.revenue_lift, c.incremental_revenue,
       c.attributed_orders, c.attributed_revenue
from iceberg.gold.campaign_effectiveness c
where c.as_of_date = (select max(as_of_date) from iceberg.gold.campaign_effectiveness)
order by c.revenue_per_cost desc nulls last, c.campaign_id
