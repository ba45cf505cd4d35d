"""Restart paths, for every stream with every fault: a stop with a savepoint then a resume under a new
job id, and `down` then `up` of the whole stack. Nothing is lost and nothing is doubled either way,
including what was sent while the job was stopped; the CDC mirror still equals its source."""

import subprocess
import sys

import pytest

from headwater import PROJECT_ROOT
from headwater.contracts import stream_contracts
from headwater.reconcile import render
from headwater.stack.flink import Flink
from producers.faults import FaultPlan
from producers.run import ProduceOptions, produce
from tests.integration.cdc import assert_mirrors_source
from tests.integration.conftest import reconciled

pytestmark = pytest.mark.integration

JOB = "headwater-ingest"
FAULTS = FaultPlan(late=0.08, late_beyond=0.4, disorder=0.1, duplicates=0.05, malformed=0.1)


def _headwater(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "headwater", *args], cwd=PROJECT_ROOT)
    assert proc.returncode == 0, f"headwater {' '.join(args)} failed"


def _send(settings, count: int, seed: int):  # -> ProduceResult
    streams = tuple(c.name for c in stream_contracts())
    result = produce(settings, ProduceOptions(streams=streams, count=count, rate=0, seed=seed, faults=FAULTS),
                     progress=False)
    assert result.acked == count
    return result


def _assert_exact(settings, trino, *runs) -> None:
    for run in runs:
        accounts = reconciled(settings, trino, run.ledger, timeout=300)
        assert all(a.ok for a in accounts), render(accounts)


def test_savepoint_resume_and_full_restart_lose_and_double_nothing(stack, trino):
    flink = Flink(stack)
    first = _send(stack, 1500, seed=202)
    _assert_exact(stack, trino, first)

    # 1. stop with a savepoint; events sent while no job runs; resume under a new job id
    job_before = flink.running_job(JOB)["id"]
    _headwater("stop-jobs")
    assert flink.running_job(JOB) is None
    while_stopped = _send(stack, 800, seed=303)
    _headwater("submit")
    resumed = flink.running_job(JOB)
    assert resumed and resumed["id"] != job_before
    assert flink._job_records()[JOB]["restored_from"], "the job did not resume from its savepoint"
    _assert_exact(stack, trino, first, while_stopped)

    # 2. the whole stack down and up again
    _headwater("down")
    _headwater("up")
    restarted = flink.running_job(JOB)
    assert restarted and restarted["id"] not in (job_before, resumed["id"])
    assert flink._job_records()[JOB]["restored_from"], "the job did not resume after `up`"
    after_up = _send(stack, 800, seed=404)
    _assert_exact(stack, trino, first, while_stopped, after_up)


def test_cdc_mirror_survives_the_restarts(stack, trino, quiet_shop):
    # runs after the restarts above (file order): changes made before and after them are all mirrored
    assert_mirrors_source(stack, trino, timeout=180)
