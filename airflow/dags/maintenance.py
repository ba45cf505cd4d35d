"""Nightly Iceberg maintenance: compact small files and expire old snapshots (``headwater maintain``).

Runs beside the streaming job: the maintain job keeps the newest snapshots the Flink committer
needs and only compacts append-only tables, so it never breaks a running ingest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

log = logging.getLogger(__name__)


def log_failure(context: dict) -> None:
    """on_failure_callback: name the failing task (its log holds the maintain job's output)."""
    ti = context.get("task_instance")
    log.error("maintenance failed: task %s run %s: %s", getattr(ti, "task_id", "?"), context.get("run_id"),
              context.get("exception"))


with DAG(
    dag_id="maintenance",
    description="rewrite data files and expire snapshots of the Iceberg tables",
    # at night, after gold_daily
    schedule="0 3 * * *",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "on_failure_callback": log_failure},
    tags=["maintenance", "spark"],
) as dag:
    BashOperator(task_id="maintain", bash_command="{{ var.value.headwater_cli }} maintain")
