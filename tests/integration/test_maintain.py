"""Maintenance beside the running job: compaction, manifest rewrite, snapshot expiry and orphan removal lose
nothing and stop nothing."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

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
    # two files no snapshot references in the table's data folder: one written days ago (an orphan
    # to remove), one just now (maybe a commit in flight: kept)
    data_file = trino.query('select file_path from iceberg.silver."pos_sales$files" limit 1')[0][0]
    folder = Path(urlparse(data_file).path).parent
    old_orphan, new_orphan = (folder / f"orphan-{uuid.uuid4()}.parquet" for _ in range(2))
    for path in (old_orphan, new_orphan):
        path.write_bytes(b"not referenced by any snapshot")
    four_days_ago = time.time() - 4 * 86400
    os.utime(old_orphan, (four_days_ago, four_days_ago))
    try:
        proc = subprocess.run([sys.executable, "-m", "headwater", "maintain", "--older-than-hours", "0",
                               "--retain-last", "5", "--tables", "bronze.pos_sales,silver.pos_sales"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
        kept = new_orphan.exists()
    finally:  # the planted files never outlive the test, whatever happens
        for path in (old_orphan, new_orphan):
            path.unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "files compacted" in proc.stdout and "manifests rewritten" in proc.stdout
    assert f"removed orphan file:{old_orphan}" in proc.stdout, proc.stdout
    assert kept, "a file younger than the orphan age limit was removed"
    for table, n in files.items():
        assert count_rows(files_sql(table)) < n, table
    accounts = reconcile(stack, before.ledger, trino.query)
    assert all(a.ok for a in accounts), render(accounts)
    assert Flink(stack).running_job(JOB_NAME)["state"] == "RUNNING"
    after = send_pos_sales(stack, count=500, seed=708)
    wait_until_equal(lambda: trino.query(silver_counts_sql(after.event_ids))[0], (len(after.event_ids),) * 2,
                     CATCH_UP_S, "the job keeps committing after maintenance")
    # Spark compacted the table and Flink appended to it since, both through the project's Hadoop file
    # system (headwater/stack/hadoop.py): Hadoop's own writes a .crc side file beside every file and
    # forks a chmod for each
    written = [Path(urlparse(path).path) for (path,) in trino.query(
        'select file_path from iceberg.silver."pos_sales$files" union all '
        'select path from iceberg.silver."pos_sales$manifests"')]
    assert len(written) >= 2 and all(p.exists() for p in written), written
    assert not [p for p in written if (p.parent / f".{p.name}.crc").exists()], "Hadoop's checksum file system wrote"
