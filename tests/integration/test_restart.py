"""Restart paths: `down` then `up` keeps every row once; the job resumes from its savepoint."""

import subprocess
import sys

import pytest

from headwater import PROJECT_ROOT
from headwater.stack.flink import Flink
from tests.integration.conftest import send_pos_sales, wait_until_equal
from tests.integration.test_slice import CATCH_UP_S, bronze_count_sql, silver_counts_sql

pytestmark = pytest.mark.integration


def _headwater(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "headwater", *args], cwd=PROJECT_ROOT)
    assert proc.returncode == 0, f"headwater {' '.join(args)} failed"


def test_down_up_keeps_counts_and_resumes_without_duplicates(stack, trino, count_rows):
    first = send_pos_sales(stack, count=1500, seed=202, duplicates=0.05)
    wait_until_equal(lambda: count_rows(bronze_count_sql(first.run_id)), first.acked, CATCH_UP_S,
                     "first batch in bronze")
    wait_until_equal(lambda: trino.query(silver_counts_sql(first.event_ids))[0],
                     (len(first.event_ids),) * 2, CATCH_UP_S, "first batch in silver")
    job_before = Flink(stack).running_job("headwater-ingest")["id"]

    _headwater("down")
    _headwater("up")

    flink = Flink(stack)
    job_after = flink.running_job("headwater-ingest")
    assert job_after and job_after["id"] != job_before
    assert flink._job_records()["headwater-ingest"]["restored_from"], "the job did not resume from saved state"
    assert count_rows(bronze_count_sql(first.run_id)) == first.acked
    assert trino.query(silver_counts_sql(first.event_ids))[0] == (len(first.event_ids),) * 2

    second = send_pos_sales(stack, count=700, seed=303, duplicates=0.05)
    both = first.event_ids | second.event_ids
    wait_until_equal(lambda: count_rows(bronze_count_sql(second.run_id)), second.acked, CATCH_UP_S,
                     "second batch in bronze")
    wait_until_equal(lambda: trino.query(silver_counts_sql(both))[0], (len(both),) * 2, CATCH_UP_S,
                     "N+M distinct events in silver, none twice")
    assert count_rows(bronze_count_sql(first.run_id)) == first.acked
