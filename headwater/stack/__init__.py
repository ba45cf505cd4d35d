"""The local stack: one module per service, started in order by :mod:`headwater.stack.runner`."""

from __future__ import annotations

from headwater.settings import Settings
from headwater.stack.base import Service


def services(settings: Settings) -> list[Service]:
    """Every part of the local stack, in start order (stop runs in reverse)."""
    from headwater.stack.airflow import Airflow
    from headwater.stack.connect import Connect
    from headwater.stack.flink import Flink
    from headwater.stack.iceberg import Iceberg
    from headwater.stack.kafka import Kafka
    from headwater.stack.postgres import Postgres
    from headwater.stack.spark import Spark
    from headwater.stack.trino import Trino
    from headwater.stack.workloads import MasterDataWriter, Producer, ShopWriterService, StreamingJobs

    return [cls(settings) for cls in (Postgres, Kafka, Connect, Iceberg, Flink, Trino, Spark, Airflow,
                                      StreamingJobs, Producer, ShopWriterService, MasterDataWriter)]


#: The services `make status` must show healthy; the rest are workloads on top.
CORE_SERVICES = ("postgres", "kafka", "connect", "iceberg", "flink", "trino", "spark", "airflow")
