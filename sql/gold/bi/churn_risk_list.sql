-- customers most at risk of churning as of the newest observation day: long since their last
-- purchase and buying less than in the month before
select c.customer_id, c.recency_days, c.purchases_30d, c.purchases_prev_30d, c.purchases_trend,
       c.revenue_trend, g.segment as rfm_segment, d.segment as crm_segment, d.city
from iceberg.gold.features_churn c
left join iceberg.gold.customer_segments g on g.customer_id = c.customer_id and g.as_of_date = c.obs_date
left join iceberg.gold.dim_customer d on d.customer_id = c.customer_id and d.is_current
where c.obs_date = (select max(obs_date) from iceberg.gold.features_churn)
  and (c.recency_days >= 14 or c.purchases_trend < 0)
order by c.recency_days desc, c.purchases_trend, c.customer_id
limit 100
