"""Daily Gold build: dimensions, then facts, then aggregates and ML features, one task per table.

Each task runs ``headwater spark gold_daily`` for the run's data interval (a UTC day) and one
table; the job checks the table against ``sql/gold/<table>.yaml`` before publishing it, so a
failing quality check fails its task and nothing downstream of it runs. The job overwrites
only the days of the interval, reaching back over earlier days that late Silver rows fell on
since the table's last build (its catch-up): a rerun, or an ``airflow backfill create`` over a
date range, gives the same tables as the scheduled runs. The task graph follows table lineage.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

log = logging.getLogger(__name__)

#: the interval's first and last UTC day (a daily interval: one day)
START = "{{ data_interval_start | ds }}"
END = "{{ (data_interval_end - macros.timedelta(seconds=1)) | ds }}"
#: a namespace name (it is put into a shell command: nothing else is accepted)
NAMESPACE = "^[a-z_][a-z0-9_]*$"
#: inventory updates arrive up to 48 h late: its task also rebuilds the two days before (catch-up
#: finds those days on its own; this also covers a table's first run, which has nothing recorded)
INVENTORY_START = "{{ (data_interval_start - macros.timedelta(days=2)) | ds }}"

#: table -> the Gold tables it reads (dimensions are built by one task, "dimensions")
LINEAGE: dict[str, tuple[str, ...]] = {
    "fact_sales": ("dimensions",),
    "fact_inventory_daily": ("dimensions",),
    "fact_feedback": ("dimensions",),
    "fact_equipment_hourly": ("dimensions",),
    "fact_web_sessions": ("dimensions",),
    "product_sales_daily": ("fact_sales",),
    "channel_performance": ("fact_sales", "fact_web_sessions"),
    "campaign_effectiveness": ("fact_sales",),
    "customer_sales_daily": ("fact_sales",),
    "customer_segments": ("customer_sales_daily",),
    "customer_profiles": ("customer_sales_daily", "fact_feedback", "fact_web_sessions"),
    "features_demand": ("product_sales_daily",),
    "features_equipment": ("fact_equipment_hourly",),
    "features_churn": ("customer_sales_daily",),
    "features_interactions": ("fact_sales",),
}


def log_failure(context: dict) -> None:
    """on_failure_callback: name the failing task; its log holds the failing quality check."""
    ti = context.get("task_instance")
    log.error("gold_daily failed: dag %s task %s run %s try %s: %s (the task log names the failing table and "
              "check)", getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"), context.get("run_id"),
              getattr(ti, "try_number", "?"), context.get("exception"))


def gold_command(tables: str, start: str = START) -> str:
    """The CLI call that builds ``tables`` for the run's interval (run id: Airflow's, for the quality results)."""
    return (f"{{{{ var.value.headwater_cli }}}} spark gold_daily -- --tables {tables} --start {start} --end {END} "
            "--run-id '{{ run_id }}' --source-namespace '{{ params.source_namespace }}' "
            "--target-namespace '{{ params.target_namespace }}'")


with DAG(
    dag_id="gold_daily",
    description="Silver + master data -> Gold dimensions, facts, aggregates, features, with quality gates",
    # a run covers one whole UTC day and starts once it is over (logical date: the day's start). A bare
    # "@daily" would be a trigger timetable in Airflow 3: an empty interval at midnight, no day to build.
    # Manual runs and `airflow dags test <date>` take the last whole day before their date.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    # two cores locally: two Spark jobs at a time at most
    max_active_tasks=2,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "on_failure_callback": log_failure},
    tags=["gold", "spark", "quality"],
    # a run's conf may point it at other namespaces (tests build a frozen copy of Silver)
    params={"source_namespace": Param("silver", type="string", pattern=NAMESPACE),
            "target_namespace": Param("gold", type="string", pattern=NAMESPACE)},
) as dag:
    tasks = {"dimensions": BashOperator(task_id="dimensions", bash_command=gold_command("dimension"))}
    for table in LINEAGE:
        start = INVENTORY_START if table == "fact_inventory_daily" else START
        tasks[table] = BashOperator(task_id=table, bash_command=gold_command(table, start))
    for table, upstream in LINEAGE.items():
        for parent in upstream:
            tasks[parent] >> tasks[table]
