"""Nightly Iceberg maintenance of Bronze, Silver and Gold (``headwater maintain``): rewrite data files,
rewrite manifests, expire old snapshots, remove orphan files.

Runs beside the streaming job: the maintain job keeps the newest snapshots the Flink committer
needs, and removes only orphan files days old, never the files of a commit in flight, so it
never breaks a running ingest or a Gold build.
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
    description="rewrite data files and manifests, expire snapshots, remove orphan files of every layer",
    # at night, after gold_daily
    schedule="0 3 * * *",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "on_failure_callback": log_failure},
    tags=["maintenance", "spark"],
) as dag:
    BashOperator(task_id="maintain", bash_command="{{ var.value.headwater_cli }} maintain")
