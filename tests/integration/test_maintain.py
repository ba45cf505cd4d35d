"""Maintenance beside the running job: compaction and snapshot expiry lose nothing and stop nothing."""

import subprocess
import sys

import pytest

from flink_jobs.ingest import JOB_NAME
from headwater import PROJECT_ROOT
from headwater.reconcile import reconcile, render
from headwater.stack.flink import Flink
from tests.integration.conftest import send_pos_sales, wait_until_equal
from tests.integration.test_slice import CATCH_UP_S, bronze_count_sql, silver_counts_sql

pytestmark = pytest.mark.integration


def files_sql(table: str) -> str:
    namespace, name = table.split(".")
    return f'select count(*) from iceberg.{namespace}."{name}$files"'


def test_compaction_and_expiry_beside_the_running_job(stack, trino, count_rows):
    before = send_pos_sales(stack, count=1000, seed=707, duplicates=0.05)
    wait_until_equal(lambda: count_rows(bronze_count_sql(before.run_id)), before.acked, CATCH_UP_S, "batch in bronze")
    files = {t: count_rows(files_sql(t)) for t in ("bronze.pos_sales", "silver.pos_sales")}
    proc = subprocess.run([sys.executable, "-m", "headwater", "maintain", "--older-than-hours", "0",
                           "--retain-last", "5", "--tables", "bronze.pos_sales,silver.pos_sales"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "files compacted" in proc.stdout
    for table, n in files.items():
        assert count_rows(files_sql(table)) < n, table
    accounts = reconcile(stack, before.ledger, trino.query)
    assert all(a.ok for a in accounts), render(accounts)
    assert Flink(stack).running_job(JOB_NAME)["state"] == "RUNNING"
    after = send_pos_sales(stack, count=500, seed=708)
    wait_until_equal(lambda: trino.query(silver_counts_sql(after.event_ids))[0], (len(after.event_ids),) * 2,
                     CATCH_UP_S, "the job keeps committing after maintenance")
