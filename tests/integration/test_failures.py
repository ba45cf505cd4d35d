"""Failures during a produce run: the TaskManager killed (-9) three times and the Kafka broker
restarted once; afterwards every ledger entry is still exactly where it belongs, once.
(Flink's own end-to-end tests kill TaskManagers three times and check the output the same way.)"""

import os
import signal
import threading

import pytest

from flink_jobs.ingest import JOB_NAME
from headwater.contracts import stream_contracts
from headwater.reconcile import render
from headwater.stack.flink import Flink
from headwater.stack.kafka import Kafka
from headwater.stack.proc import wait_for
from producers.faults import FaultPlan
from producers.run import ProduceOptions, produce
from tests.integration.conftest import reconciled

pytestmark = pytest.mark.integration


def _checkpoints(flink: Flink) -> int:
    job = flink.running_job(JOB_NAME)
    if not job or job["state"] != "RUNNING":
        return -1
    return flink.rest(f"/jobs/{job['id']}/checkpoints", timeout=5)["counts"]["completed"]


def _kill_taskmanager(flink: Flink) -> None:
    tm = flink.processes()[1]
    os.killpg(os.getpgid(tm.pid()), signal.SIGKILL)
    wait_for(lambda: not tm.running(), 30, "the TaskManager to die")
    flink.start()  # starts what is not running: a new TaskManager
    # the job is back when it runs again and has completed a checkpoint since
    before = _checkpoints(flink)
    wait_for(lambda: _checkpoints(flink) > max(before, 0), 180, "the job to recover and checkpoint again",
             interval=1)


def test_taskmanager_kills_and_a_broker_restart_lose_and_duplicate_nothing(stack, trino):
    flink, kafka = Flink(stack), Kafka(stack)
    flink.install()
    kafka.install()
    faults = FaultPlan(late=0.05, late_beyond=0.4, disorder=0.1, duplicates=0.05, malformed=0.05)
    streams = tuple(c.name for c in stream_contracts())
    outcome = {}

    def run() -> None:  # a paced run long enough to span every failure below
        outcome["result"] = produce(stack, ProduceOptions(streams=streams, rate=25, seed=606, duration=100,
                                                          faults=faults), deadline=120, progress=False)

    producer = threading.Thread(target=run)
    producer.start()
    try:
        for _ in range(3):
            wait_for(lambda: _checkpoints(flink) >= 1, 120, "a completed checkpoint before the kill", interval=1)
            _kill_taskmanager(flink)
        kafka.stop()
        kafka.start()
        kafka.wait_ready()
    finally:
        producer.join(timeout=300)
    result = outcome["result"]
    assert result.acked > 1000 and result.failed == 0

    accounts = reconciled(stack, trino, result.ledger, timeout=420)
    assert all(a.ok for a in accounts), render(accounts)
