"""What `make up` runs on top of the services: the streaming job and a producer of events."""

from __future__ import annotations

import sys

from headwater import PROJECT_ROOT
from headwater.stack.base import Health, Service
from headwater.stack.flink import Flink
from headwater.stack.kafka import Kafka, ensure_topics
from headwater.stack.proc import ManagedProcess, wait_for

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
    """Producers of every stream at the configured rate (and fault shares) until `make down`."""

    name = "producer"
    title = "Event producer"

    def processes(self) -> list[ManagedProcess]:
        return [ManagedProcess("producer", self.settings.run_dir)]

    def start(self) -> None:
        self.processes()[0].start([sys.executable, "-m", "headwater", "produce", "--quiet"], cwd=PROJECT_ROOT)

    def wait_ready(self) -> None:
        pass

    def health(self) -> Health:
        proc = self.processes()[0]
        if not proc.running():
            return Health(False, "not running (`make produce` sends a batch by hand)")
        p = self.settings.producer
        return Health(True, f"{p.streams or 'all streams'}, {p.rate:g} sale lines/s and the rest in proportion "
                            f"(pid {proc.pid()})")


class ShopWriterService(Service):
    """The OLTP writer: online orders placed, advanced and purged in the `shop` database."""

    name = "shop-writer"
    title = "Shop OLTP writer"

    def start(self) -> None:
        self.processes()[0].start([sys.executable, "-m", "headwater", "shop-writer"], cwd=PROJECT_ROOT)

    def wait_ready(self) -> None:
        from producers.shop import connect

        proc = self.processes()[0]

        def has_orders() -> bool:
            with connect(self.settings) as conn:
                return conn.execute("select count(*) from orders").fetchone()[0] > 0

        wait_for(has_orders, 60, "the first online order in shop.orders", alive=proc.running, log=proc.log_tail)

    def health(self) -> Health:
        from producers.shop import connect

        proc = self.processes()[0]
        if not proc.running():
            return Health(False, "not running")
        try:
            with connect(self.settings) as conn:
                rows = dict(conn.execute("select status, count(*) from orders group by status").fetchall())
        except Exception as exc:
            return Health(False, f"shop database not readable: {exc}")
        return Health(True, "shop.orders: " + ", ".join(f"{k} {v}" for k, v in sorted(rows.items())))


class MasterDataWriter(Service):
    """Drops the daily CRM/ERP master-data files into the landing folder."""

    name = "masterdata"
    title = "Master-data writer"

    def start(self) -> None:
        self.processes()[0].start([sys.executable, "-m", "headwater", "masterdata", "--follow"], cwd=PROJECT_ROOT)

    def wait_ready(self) -> None:
        from producers.masterdata import landed_days

        proc = self.processes()[0]
        wait_for(lambda: landed_days(self.settings.landing_dir), 120, "the first master-data drop",
                 alive=proc.running, log=proc.log_tail)

    def health(self) -> Health:
        from producers.masterdata import landed_days

        proc = self.processes()[0]
        days = landed_days(self.settings.landing_dir)
        if not proc.running():
            return Health(False, "not running")
        if not days:
            return Health(False, f"no complete drop in {self.settings.landing_dir} yet")
        return Health(True, f"{len(days)} daily drops in {self.settings.landing_dir}, latest {days[-1]}")
