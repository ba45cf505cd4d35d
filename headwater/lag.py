"""Per-stream lag of the streaming layer: records not yet consumed, event-time delay of the
watermark, and Silver freshness against the contract's target."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

from headwater.contracts import cdc_contracts, stream_contracts
from headwater.settings import Settings

_QUIET = logging.getLogger("headwater.lag.client")
_QUIET.setLevel(logging.CRITICAL)


@dataclass
class StreamLag:
    stream: str
    #: records in Kafka the ingest job has not committed yet
    consumer_lag: int | None
    #: now minus the watermark entering the stream's Silver operator, in seconds
    event_time_delay_s: float | None
    #: now minus the event time of the newest row committed to Silver, in seconds
    silver_freshness_s: float | None
    freshness_target_s: float
    #: the freshness target is missed (or Silver has no row at all)
    missed: bool

    def as_dict(self) -> dict:
        return asdict(self)


def consumer_lag(settings: Settings, group: str, topics: list[str]) -> dict[str, int]:
    """End offset minus committed offset, summed over each topic's partitions."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": group,
                         "enable.auto.commit": False, "logger": _QUIET, **settings.kafka.client_properties})
    try:
        meta = consumer.list_topics(timeout=10)
        out = {}
        for topic in topics:
            parts = [TopicPartition(topic, p) for p in meta.topics[topic].partitions] if topic in meta.topics else []
            committed = consumer.committed(parts, timeout=10) if parts else []
            total = 0
            for tp in committed:
                high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)[1]
                total += high - (tp.offset if tp.offset >= 0 else 0)
            out[topic] = total
        return out
    finally:
        consumer.close()


def watermarks(flink) -> dict[str, float]:
    """Watermark (epoch seconds) entering each stream's Silver operator of the running ingest job."""
    from flink_jobs.ingest import JOB_NAME

    job = flink.running_job(JOB_NAME)
    if not job:
        return {}
    out = {}
    for vertex in flink.rest(f"/jobs/{job['id']}")["vertices"]:
        for c in stream_contracts():
            if f"iceberg.silver.{c.name}:" in vertex["name"] and "Deduplicate" in vertex["name"]:
                values = [int(w["value"]) for w in flink.rest(f"/jobs/{job['id']}/vertices/{vertex['id']}/watermarks")
                          if w["id"].endswith("currentInputWatermark")]
                if values and min(values) > 0:
                    out[c.name] = min(values) / 1000
    return out


def stream_lags(settings: Settings) -> list[StreamLag]:
    from flink_jobs.ingest import JOB_NAME
    from headwater.stack.flink import Flink
    from headwater.stack.trino import Trino

    contracts = stream_contracts()
    cdc = cdc_contracts()
    lags = consumer_lag(settings, JOB_NAME, [c.topic for c in contracts])
    # the CDC mirror's changelog source commits under its own group (see flink_jobs.ingest)
    lags.update(consumer_lag(settings, f"{JOB_NAME}-cdc", [c.changes_topic for c in cdc]))
    marks = watermarks(Flink(settings))
    trino = Trino(settings)
    now = time.time()
    out = []
    for c in contracts + cdc:
        topic = c.changes_topic or c.topic
        newest = trino.query(f"select to_unixtime(max({c.event_time})) from {settings.catalog.name}.silver.{c.name}")
        fresh = now - newest[0][0] if newest and newest[0][0] is not None else None
        target = c.freshness_target.total_seconds()
        out.append(StreamLag(c.name, lags.get(topic), now - marks[c.name] if c.name in marks else None,
                             fresh, target, fresh is None or fresh > target))
    return out


def render(lags: list[StreamLag]) -> str:
    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}s"

    lines = [f"{'stream':<20}{'consumer lag':>14}{'event-time delay':>18}{'silver freshness':>18}{'target':>9}"]
    for lag in lags:
        mark = "  MISSED" if lag.missed else ""
        lines.append(f"{lag.stream:<20}{'-' if lag.consumer_lag is None else f'{lag.consumer_lag:,}':>14}"
                     f"{s(lag.event_time_delay_s):>18}{s(lag.silver_freshness_s):>18}"
                     f"{s(lag.freshness_target_s):>9}{mark}")
    return "\n".join(lines)
