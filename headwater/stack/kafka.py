"""Apache Kafka: one broker in KRaft combined mode (broker + controller in one JVM)."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path

from headwater.stack import install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.proc import port_open, wait_for

_QUIET = logging.getLogger("headwater.kafka.client")
_QUIET.setLevel(logging.CRITICAL)

def log4j2_config(quiet: dict[str, str]) -> str:
    """A log4j2 configuration for Kafka's JVMs (broker, Connect): INFO to stdout, the given loggers quieter."""
    lines = ["# Written by headwater on every start.", "status = warn",
             "appender.console.type = Console", "appender.console.name = STDOUT",
             "appender.console.layout.type = PatternLayout",
             "appender.console.layout.pattern = [%d] %p %m (%c)%n",
             "rootLogger.level = INFO", "rootLogger.appenderRef.stdout.ref = STDOUT"]
    for i, (logger, level) in enumerate(quiet.items()):
        lines += [f"logger.q{i}.name = {logger}", f"logger.q{i}.level = {level}"]
    return "\n".join(lines) + "\n"


LOG4J2 = log4j2_config({"state.change.logger": "WARN"})


class Kafka(Service):
    name = "kafka"
    title = "Kafka"
    start_timeout = 90

    @property
    def home(self) -> Path:
        return self.settings.run_dir / "kafka"

    def ports(self) -> list[tuple[int, str]]:
        k = self.settings.kafka
        return [(k.port, "HEADWATER_KAFKA__BOOTSTRAP_SERVERS"),
                (k.controller_port, "HEADWATER_KAFKA__CONTROLLER_PORT")]

    def endpoints(self) -> dict[str, str]:
        return {"Kafka bootstrap": self.settings.kafka.bootstrap_servers}

    def install(self) -> None:
        self.jars = install.ensure_maven_group(self.settings, "kafka")
        self.java_home = install.find_jdk(self.settings, "kafka")

    def _properties(self) -> str:
        s = self.settings
        host, port, cport = s.bind_host, s.kafka.port, s.kafka.controller_port
        return "\n".join([
            "# Written by headwater on every start; change settings, not this file.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={host}:{cport}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            f"advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={self.home / 'data'}",
            f"num.partitions={s.kafka.topic_partitions}",
            # topics come from the stream contracts; a typo must not create a topic
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # a local broker keeps a week of data, like a default cluster, but in small segments
            "log.retention.hours=168",
            "log.segment.bytes=134217728",
            # oversized records (up to 2 MB) reach Bronze instead of failing at the producer
            "message.max.bytes=2097152",
            "",
        ])

    def _java(self, main: str, *args: str, heap: str = "128m") -> list[str]:
        return [str(self.java_home / "bin" / "java"), f"-Xmx{heap}", "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{self.jars}/*", main, *args]

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(self._properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            install.say(f"formatting Kafka storage (cluster id {cluster_id})")
            proc = subprocess.run(self._java("kafka.tools.StorageTool", "format", "--standalone",
                                             "-t", cluster_id, "-c", str(props)),
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{proc.stdout}\n{proc.stderr}")
        argv = self._java("kafka.Kafka", str(props), heap="512m")
        argv[2:2] = ["-Xms256m"]
        self.processes()[0].start(argv, env=install.java_env(self.java_home))

    def admin(self):  # -> confluent_kafka.admin.AdminClient
        from confluent_kafka.admin import AdminClient

        conf = {"bootstrap.servers": self.settings.kafka.bootstrap_servers, "socket.timeout.ms": 3000,
                # connection errors are reported by our own checks, not as librdkafka log spam
                "logger": _QUIET}
        conf.update(self.settings.kafka.client_properties)
        return AdminClient(conf)

    def _ready(self) -> bool:
        if not port_open(self.settings.bind_host, self.settings.kafka.port):
            return False
        meta = self.admin().list_topics(timeout=3)
        return bool(meta.brokers)

    def wait_ready(self) -> None:
        proc = self.processes()[0]
        wait_for(self._ready, self.start_timeout, "the Kafka broker to answer",
                 alive=proc.running, log=proc.log_tail)

    def health(self) -> Health:
        try:
            if self.settings.is_local and not port_open(self.settings.bind_host, self.settings.kafka.port):
                return Health(False, f"nothing listens on {self.settings.kafka.bootstrap_servers}")
            meta = self.admin().list_topics(timeout=3)
            topics = sorted(t for t in meta.topics if not t.startswith("_"))
            return Health(True, f"{len(meta.brokers)} broker, topics: {', '.join(topics) or '(none)'}",
                          {"topics": topics})
        except Exception as exc:
            return Health(False, f"no answer from {self.settings.kafka.bootstrap_servers}: {exc}")


def ensure_topics(kafka: Kafka, replication_factor: int = 1) -> list[str]:
    """Create the contracts' topics: one per stream (named like it) and one per CDC table
    (``<name>_changes``); return those created."""
    from confluent_kafka.admin import NewTopic

    from headwater.contracts import cdc_contracts, stream_contracts

    admin = kafka.admin()
    existing = set(admin.list_topics(timeout=10).topics)
    names = [c.topic for c in stream_contracts()] + [c.changes_topic for c in cdc_contracts()]
    wanted = [NewTopic(name, num_partitions=kafka.settings.kafka.topic_partitions,
                       replication_factor=replication_factor)
              for name in names if name not in existing]
    if not wanted:
        return []
    for topic, future in admin.create_topics(wanted, operation_timeout=30).items():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StackError(f"creating Kafka topic {topic} failed: {exc}") from exc
    return [t.topic for t in wanted]
