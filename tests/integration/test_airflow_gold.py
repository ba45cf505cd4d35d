"""`airflow dags test gold_daily` on the running stack, and the run as Airflow's REST API shows it.

The DAG reads the frozen copy of Silver that test_gold_build makes (its ``frozen_day`` fixture)
and writes its own namespace, through a run conf: the shared ``gold`` tables are never written.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from datetime import date, timedelta

import pytest

from headwater import PROJECT_ROOT
from headwater.stack.airflow import Airflow
from headwater.stack.trino import Trino
from tests.integration.test_gold_build import SRC, frozen_day  # noqa: F401

pytestmark = pytest.mark.integration

DAG_GOLD = "gold_airflow_test"


def test_dags_test_builds_gold_and_the_run_is_in_the_rest_api(stack, trino: Trino, frozen_day: str):  # noqa: F811
    trino.query(f"create schema if not exists iceberg.{DAG_GOLD}")
    for (table,) in trino.query(f"show tables from iceberg.{DAG_GOLD}"):
        trino.query(f'drop table iceberg.{DAG_GOLD}."{table}"')
    airflow = Airflow(stack)
    airflow.install()
    conf = {"source_namespace": SRC, "target_namespace": DAG_GOLD}
    # every task in this process, one after the other, recorded in the metadata database
    # a manual run builds the last whole day before its logical date
    run_date = (date.fromisoformat(frozen_day) + timedelta(days=1)).isoformat()
    proc = subprocess.run([str(airflow.venv / "bin" / "airflow"), "dags", "test", "gold_daily", run_date,
                           "-c", json.dumps(conf)], env=airflow.env(), cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=2400)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]

    token = airflow.token()
    runs = airflow.api("/dags/gold_daily/dagRuns?order_by=-start_date&limit=20", token=token)["dag_runs"]
    run = next(r for r in runs if r["conf"] == conf and r["logical_date"].startswith(run_date))
    assert run["state"] == "success", run
    tasks = airflow.api(f"/dags/gold_daily/dagRuns/{urllib.parse.quote(run['dag_run_id'])}/taskInstances",
                        token=token)
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert len(states) == 16 and set(states.values()) == {"success"}, states

    # each table was built and passed its gate under Airflow's run id (test_airflow_backfill compares the
    # DAG's tables with the job's own)
    scores = dict(trino.query(f"select table_name, min(score) from iceberg.{DAG_GOLD}.quality_scores "
                              f"where run_id = '{run['dag_run_id']}' group by 1"))
    assert len(scores) == 22 and set(scores.values()) == {1.0}, scores
