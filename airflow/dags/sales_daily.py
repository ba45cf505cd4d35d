"""Daily build of gold.sales_daily from silver.pos_sales (the Spark smoke job).

The task calls the headwater CLI, which runs the job with the Spark environment's
spark-submit against the catalog the settings name; the DAG holds no endpoint.
"""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="sales_daily",
    description="silver.pos_sales -> gold.sales_daily (per store and day), idempotent",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["gold", "spark"],
) as dag:
    BashOperator(
        task_id="build_sales_daily",
        bash_command="{{ var.value.headwater_cli }} spark sales_daily",
    )
