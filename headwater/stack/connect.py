"""Kafka Connect (one distributed worker) running Debezium's PostgreSQL connector.

Change data capture of the shop database: Debezium reads PostgreSQL's write-ahead log
through logical replication (``pgoutput``), so every insert, update and delete reaches
Kafka, in commit order per row, without polling timestamps. The worker runs with
exactly-once source support: change events and their source offsets are committed to
Kafka in one transaction, so a crash neither loses nor repeats a change.

Which tables and topics come from the ``postgres`` contracts: table ``orders`` of contract
``online_orders`` goes to topic ``online_orders_changes``.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from headwater import versions
from headwater.settings import Settings
from headwater.stack import install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.kafka import log4j2_config
from headwater.stack.proc import wait_for

# plugin scanning, the REST server's access log and client chatter are noise at INFO
LOG4J2 = log4j2_config({"org.reflections": "ERROR", "org.apache.kafka.connect.runtime.rest": "WARN",
                        "org.apache.kafka.clients": "WARN"})

#: Debezium's logical server name: the first part of the topic names it would use (we reroute them).
TOPIC_PREFIX = "shop"


def slot_name(settings: Settings) -> str:
    """Replication slot and publication name: a PostgreSQL identifier made from the connector's name."""
    return "".join(ch if ch.isalnum() else "_" for ch in settings.connect.connector.lower())


def password_file(settings: Settings) -> Path:
    """Where the worker reads the database password from (never stored in Connect's config topic)."""
    return settings.secrets_dir / "connect-postgres.properties"


def connector_config(settings: Settings, password_ref: str) -> dict[str, str]:
    """The Debezium connector's configuration, derived from the postgres contracts (pure)."""
    from headwater.contracts import cdc_contracts

    contracts = cdc_contracts()
    pg = settings.postgres
    slot = slot_name(settings)
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": pg.host,
        "database.port": str(pg.port),
        "database.user": pg.user,
        "database.password": password_ref,
        "database.dbname": pg.shop_database,
        "topic.prefix": TOPIC_PREFIX,
        "table.include.list": ",".join(f"public.{c.source_table}" for c in contracts),
        "slot.name": slot,
        "publication.name": slot,
        "publication.autocreate.mode": "filtered",
        # existing rows first, then the log: the mirror starts complete
        "snapshot.mode": "initial",
        # money stays exact: numeric columns as decimal strings, not binary or double
        "decimal.handling.mode": "string",
        # a delete is one event (with the old row); no tombstone the ingest job would have to skip
        "tombstones.on.delete": "false",
        # change events and source offsets commit in one Kafka transaction
        "exactly.once.support": "required",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    # one topic per table, named after its contract like every other dataset
    routes = []
    for c in contracts:
        name = f"route_{c.name}"
        routes.append(name)
        config[f"transforms.{name}.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
        config[f"transforms.{name}.regex"] = f"{TOPIC_PREFIX}\\.public\\.{c.source_table}"
        config[f"transforms.{name}.replacement"] = c.changes_topic
    config["transforms"] = ",".join(routes)
    return config


class Connect(Service):
    name = "connect"
    title = "Kafka Connect"
    start_timeout = 120

    @property
    def home(self) -> Path:
        return self.settings.run_dir / "connect"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.connect.port, "HEADWATER_CONNECT__PORT")]

    def endpoints(self) -> dict[str, str]:
        return {"Kafka Connect REST": self.settings.connect.url}

    # -- install ---------------------------------------------------------------------------
    def install(self) -> None:
        self.jars = install.ensure_maven_group(self.settings, "connect")
        self.java_home = install.find_jdk(self.settings, "connect")
        spec = versions.load()["debezium"]
        artifacts = install.ensure_artifacts(self.settings, "debezium", [spec["postgres_plugin"]], transitive=False)
        self.plugin_path = self._unpack(artifacts)

    def _unpack(self, artifacts: Path) -> Path:
        target = artifacts.parent / f"connect-plugins-{artifacts.name}"
        if (target / install.MARKER).exists():
            return target
        install.say("unpacking the Debezium PostgreSQL connector")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for tarball in artifacts.glob("*.tar.gz"):
            with tarfile.open(tarball) as tar:
                tar.extractall(target, filter="data")
        (target / install.MARKER).touch()
        return target

    # -- run ---------------------------------------------------------------------------------
    def _properties(self) -> str:
        s, c = self.settings, self.settings.connect
        lines = [
            "# Written by headwater on every start; change settings, not this file.",
            f"bootstrap.servers={s.kafka.bootstrap_servers}",
            f"group.id={c.group_id}",
            "key.converter=org.apache.kafka.connect.json.JsonConverter",
            "value.converter=org.apache.kafka.connect.json.JsonConverter",
            # Connect's own topics (underscore: internal, hidden from `make status`)
            "config.storage.topic=_connect_configs",
            "offset.storage.topic=_connect_offsets",
            "status.storage.topic=_connect_status",
            "config.storage.replication.factor=1",
            "offset.storage.replication.factor=1",
            "offset.storage.partitions=5",
            "status.storage.replication.factor=1",
            "status.storage.partitions=1",
            f"listeners=http://{s.bind_host}:{c.port}",
            f"rest.advertised.host.name={s.bind_host}",
            f"rest.advertised.port={c.port}",
            f"plugin.path={self.plugin_path}",
            # every plugin here ships ServiceLoader manifests: skip the slow classpath scan
            "plugin.discovery=service_load",
            "exactly.once.source.support=enabled",
            "offset.flush.interval.ms=5000",
            # secrets are resolved by the worker from a file at run time
            "config.providers=file",
            "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
            f"config.providers.file.param.allowed.paths={s.secrets_dir.resolve()}",
            "",
        ]
        lines[2:2] = [f"{k}={v}" for k, v in s.kafka.client_properties.items()]
        return "\n".join(lines)

    def start(self) -> None:
        from headwater.stack.kafka import Kafka, ensure_topics

        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "connect-distributed.properties").write_text(self._properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        write_password_file(self.settings)  # a registered connector starts with the worker
        # the change topics must exist before the connector writes (the broker does not auto-create)
        ensure_topics(Kafka(self.settings))
        c = self.settings.connect
        argv = [str(self.java_home / "bin" / "java"), f"-Xmx{c.heap}", "-Xms128m", "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{self.jars}/*", "org.apache.kafka.connect.cli.ConnectDistributed",
                str(self.home / "connect-distributed.properties")]
        self.processes()[0].start(argv, env=install.java_env(self.java_home))

    def wait_ready(self) -> None:
        proc = self.processes()[0]
        wait_for(self._worker_ready, self.start_timeout, "the Kafka Connect worker to answer",
                 alive=proc.running, log=proc.log_tail)
        register_connector(self.settings)
        wait_for(lambda: connector_state(self.settings)[0], self.start_timeout,
                 "the Debezium connector and its task to run", alive=proc.running, log=proc.log_tail)

    def _worker_ready(self) -> bool:
        try:
            _rest(self.settings, "GET", "/connectors")
            return True
        except (OSError, StackError):
            return False

    def health(self) -> Health:
        try:
            ok, detail = connector_state(self.settings)
        except (OSError, StackError) as exc:
            return Health(False, f"no answer from {self.settings.connect.url}: {exc}")
        return Health(ok, detail)


def _rest(settings: Settings, method: str, path: str, body: object | None = None, timeout: float = 10) -> object:
    req = urllib.request.Request(f"{settings.connect.url}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise StackError(f"Kafka Connect {method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')}") \
            from exc
    return json.loads(data) if data else None


def write_password_file(settings: Settings) -> str:
    """Write the database password where the worker reads it; return the config reference to it."""
    path = password_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(f"password={settings.postgres_password}\n")
    # the worker substitutes ${file:...} when it starts the task; Connect's config topic never sees it
    return f"${{file:{path.resolve()}:password}}"


def register_connector(settings: Settings) -> None:
    """Create or update the Debezium connector (idempotent: PUT of its whole configuration)."""
    ref = write_password_file(settings)
    from producers.shop import ensure_schema

    ensure_schema(settings)  # the publication needs the tables
    _rest(settings, "PUT", f"/connectors/{settings.connect.connector}/config", connector_config(settings, ref))


def connector_state(settings: Settings) -> tuple[bool, str]:
    """(running, a one-line description) of the CDC connector and its tasks."""
    name = settings.connect.connector
    try:
        status = _rest(settings, "GET", f"/connectors/{name}/status")
    except StackError as exc:
        if "HTTP 404" in str(exc):
            return False, f"connector {name} is not registered (`make up` registers it)"
        raise
    state = status["connector"]["state"]
    tasks = status.get("tasks", [])
    failed = [t for t in tasks if t["state"] == "FAILED"]
    if failed:
        trace = (failed[0].get("trace") or "").splitlines()[:1]
        return False, f"{name}: task FAILED: {' '.join(trace)}"
    ok = state == "RUNNING" and bool(tasks) and all(t["state"] == "RUNNING" for t in tasks)
    return ok, f"{name} {state}, tasks: {', '.join(t['state'] for t in tasks) or 'none yet'}"
