"""What `make up` runs on top of the services: the streaming job and a producer of events."""

from __future__ import annotations

import sys

from headwater import PROJECT_ROOT
from headwater.stack.base import Health, Service
from headwater.stack.flink import Flink
from headwater.stack.kafka import Kafka, ensure_topics
from headwater.stack.proc import ManagedProcess

INGEST_SCRIPT = PROJECT_ROOT / "flink_jobs" / "ingest.py"


class StreamingJobs(Service):
    """Topics from the contracts and the contract-driven ingest job on the Flink cluster."""

    name = "streaming"
    title = "Streaming jobs"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.flink = Flink(settings)

    def processes(self) -> list[ManagedProcess]:
        return []

    def install(self) -> None:
        self.flink.install()

    def running(self) -> bool:
        from flink_jobs.ingest import JOB_NAME

        return self.flink.running_job(JOB_NAME) is not None

    def start(self) -> None:
        from flink_jobs.ingest import JOB_NAME

        created = ensure_topics(Kafka(self.settings))
        if created:
            print(f"  · created Kafka topics: {', '.join(created)}")
        self.flink.submit(JOB_NAME, INGEST_SCRIPT, [])

    def stop(self) -> bool:
        from flink_jobs.ingest import JOB_NAME

        return self.flink.stop_job(JOB_NAME) is not None

    def health(self) -> Health:
        from flink_jobs.ingest import JOB_NAME

        job = self.flink.running_job(JOB_NAME)
        if not job:
            return Health(False, f"{JOB_NAME} is not running (`make submit` starts it)")
        try:
            ckpt = self.flink.rest(f"/jobs/{job['id']}/checkpoints", timeout=5)
            completed = ckpt["counts"]["completed"]
            latest = (ckpt.get("latest") or {}).get("completed") or {}
            detail = f"{JOB_NAME} {job['state']} ({job['id'][:8]}), {completed} checkpoints"
            if latest:
                detail += f", last at {latest.get('latest_ack_timestamp')}"
        except Exception:
            detail = f"{JOB_NAME} {job['state']}"
        return Health(job["state"] == "RUNNING", detail, {"job_id": job["id"]})


class Producer(Service):
    """A POS sales producer running at the configured rate until `make down`."""

    name = "producer"
    title = "POS sales producer"

    def processes(self) -> list[ManagedProcess]:
        return [ManagedProcess("producer-pos_sales", self.settings.run_dir)]

    def start(self) -> None:
        self.processes()[0].start([sys.executable, "-m", "headwater", "produce", "--stream", "pos_sales",
                                   "--rate", str(self.settings.producer.rate), "--quiet"], cwd=PROJECT_ROOT)

    def wait_ready(self) -> None:
        pass

    def health(self) -> Health:
        proc = self.processes()[0]
        if not proc.running():
            return Health(False, "not running (`make produce` sends a batch by hand)")
        return Health(True, f"pos_sales at {self.settings.producer.rate:g} events/s (pid {proc.pid()})")
