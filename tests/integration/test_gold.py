"""Spark builds gold.sales_daily from silver.pos_sales; Airflow schedules it through the Spark environment."""

import subprocess
import sys

import pytest

from headwater import PROJECT_ROOT
from headwater.stack.airflow import Airflow
from headwater.stack.proc import wait_for

pytestmark = pytest.mark.integration

SILVER_DAILY = """select cast(sold_at at time zone 'UTC' as date) as sale_date, store_id,
  cast(sum(quantity * unit_price - discount) as decimal(14, 2)), sum(quantity), count(distinct sale_id), count(*)
from iceberg.silver.pos_sales group by 1, 2"""


def test_spark_job_matches_an_aggregate_of_silver(stack, trino, caught_up):
    caught_up()
    proc = subprocess.run([sys.executable, "-m", "headwater", "spark", "sales_daily"], cwd=PROJECT_ROOT)
    assert proc.returncode == 0
    gold = sorted(trino.query("select sale_date, store_id, revenue, units, receipts, lines "
                              "from iceberg.gold.sales_daily"))
    expected = sorted(trino.query(SILVER_DAILY))
    assert gold == expected and len(gold) > 0
    # idempotent: a second run leaves the same table
    assert subprocess.run([sys.executable, "-m", "headwater", "spark", "sales_daily"], cwd=PROJECT_ROOT).returncode == 0
    assert sorted(trino.query("select sale_date, store_id, revenue, units, receipts, lines "
                              "from iceberg.gold.sales_daily")) == gold


def test_airflow_runs_the_sales_daily_dag(stack):
    airflow = Airflow(stack)
    token = airflow.token()  # logs in with the password generated at first start
    wait_for(lambda: any(d["dag_id"] == "sales_daily" for d in airflow.api("/dags", token=token)["dags"]), 120,
             "the dag-processor to parse sales_daily")
    airflow.api("/dags/sales_daily", "PATCH", {"is_paused": False}, token=token)
    run = airflow.api("/dags/sales_daily/dagRuns", "POST", {"logical_date": None}, token=token)
    run_id = run["dag_run_id"]

    def finished() -> str | None:
        state = airflow.api(f"/dags/sales_daily/dagRuns/{run_id}", token=token)["state"]
        return state if state in ("success", "failed") else None

    assert wait_for(finished, 600, "the sales_daily DAG run to finish", interval=2) == "success"
