"""Trino: a single node (coordinator and worker in one JVM) serving the Iceberg catalog."""

from __future__ import annotations

import json
import os
import resource
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

from headwater import versions
from headwater.stack import install
from headwater.stack.base import Health, Service
from headwater.stack.proc import wait_for

JVM_FLAGS = [
    "-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M", "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError", "-XX:-OmitStackTraceInFastThrow", "-XX:ReservedCodeCacheSize=256M",
    "-XX:PerMethodRecompilationCutoff=10000", "-XX:PerBytecodeRecompilationCutoff=10000",
    "-Djdk.attach.allowAttachSelf=true", "-Djdk.nio.maxCachedBufferSize=2000000", "-Dfile.encoding=UTF-8",
    "-XX:+EnableDynamicAgentLoading",
    # JDK 24+ warnings about native access and sun.misc.Unsafe in Trino's libraries
    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
]
# Trino refuses to start with fewer open files than this
MIN_OPEN_FILES = 8192


def _raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(65536, hard if hard != resource.RLIM_INFINITY else 65536))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Trino(Service):
    name = "trino"
    title = "Trino"
    start_timeout = 180

    @property
    def home(self) -> Path:
        return self.settings.run_dir / "trino"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.trino.port, "HEADWATER_TRINO__PORT")]

    def endpoints(self) -> dict[str, str]:
        return {"Trino": f"{self.settings.trino.url} (catalog {self.settings.catalog.name}; `make trino`)"}

    # -- install ---------------------------------------------------------------------------
    def install(self) -> None:
        spec = versions.load()["trino"]
        self.java_home = install.find_jdk(self.settings, "trino")
        artifacts = install.ensure_artifacts(self.settings, "trino",
                                             [spec["server"], *spec["plugins"], spec["cli"]], transitive=False)
        self.server_dir = self._unpack(artifacts, spec)
        self.cli_jar = next(artifacts.glob("trino-cli-*.jar"))

    def _unpack(self, artifacts: Path, spec: dict) -> Path:
        target = artifacts.parent / f"trino-server-{artifacts.name}"
        if (target / install.MARKER).exists():
            return target
        install.say(f"unpacking Trino {spec['version']} and its plugins")
        shutil.rmtree(target, ignore_errors=True)
        tmp = target.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with tarfile.open(next(artifacts.glob("trino-server-core-*.tar.gz"))) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = [p for p in tmp.iterdir() if p.is_dir()]
        for plugin_zip in artifacts.glob("*.zip"):
            with zipfile.ZipFile(plugin_zip) as zf:
                zf.extractall(tmp / "plugin-zips")
            for unpacked in (tmp / "plugin-zips").iterdir():
                # trino-iceberg-476/ -> plugin/iceberg
                name = unpacked.name.removeprefix("trino-").rsplit("-", 1)[0]
                shutil.move(str(unpacked), top / "plugin" / name)
        top.rename(target)
        shutil.rmtree(tmp)
        (target / install.MARKER).touch()
        return target

    # -- run ---------------------------------------------------------------------------------
    def write_config(self) -> None:
        s, t = self.settings, self.settings.trino
        etc = self.home / "etc"
        (etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        (etc / "config.properties").write_text("\n".join([
            "# Written by headwater on every start; change settings, not this file.",
            "coordinator=true",
            "node-scheduler.include-coordinator=true",
            f"http-server.http.port={t.port}",
            f"discovery.uri=http://{s.bind_host}:{t.port}",
            "query.max-memory=512MB",
            "query.max-memory-per-node=256MB",
            f"plugin.dir={self.server_dir / 'plugin'}",
            f"catalog.config-dir={etc / 'catalog'}",
            "shutdown.grace-period=5s",
            "",
        ]))
        (etc / "log.properties").write_text("io.trino=INFO\n")
        pg = s.postgres
        warehouse = s.warehouse
        catalog = [
            "connector.name=iceberg",
            "iceberg.catalog.type=jdbc",
            f"iceberg.jdbc-catalog.catalog-name={s.catalog.name}",
            "iceberg.jdbc-catalog.driver-class=org.postgresql.Driver",
            f"iceberg.jdbc-catalog.connection-url={pg.jdbc_url(pg.catalog_database)}",
            f"iceberg.jdbc-catalog.connection-user={pg.user}",
            f"iceberg.jdbc-catalog.connection-password={s.postgres_password}",
            f"iceberg.jdbc-catalog.default-warehouse-dir={warehouse}",
            "iceberg.jdbc-catalog.schema-version=V1",
        ]
        if warehouse.startswith("file:"):
            # the warehouse is on local disk: let Trino read file: locations Flink and Spark record
            catalog += ["fs.native-local.enabled=true", "local.location=/"]
        path = etc / "catalog" / f"{s.catalog.name}.properties"
        path.write_text("\n".join(catalog) + "\n")
        os.chmod(path, 0o600)  # it holds the catalog database password

    def start(self) -> None:
        self.write_config()
        s = self.settings
        data = self.home / "data"
        argv = [str(self.java_home / "bin" / "java"), "-cp", f"{self.server_dir / 'lib'}/*", "-server",
                f"-Xmx{s.trino.heap}", *JVM_FLAGS,
                f"-Djava.io.tmpdir={self.home / 'tmp'}",
                "-Dnode.environment=headwater", "-Dnode.id=headwater-trino-1", f"-Dnode.data-dir={data}",
                f"-Dnode.bind-ip={s.bind_host}", f"-Dnode.internal-address={s.bind_host}",
                f"-Dconfig={self.home / 'etc' / 'config.properties'}",
                f"-Dlog.levels-file={self.home / 'etc' / 'log.properties'}",
                "io.trino.server.TrinoServer"]
        _raise_open_files()
        self.processes()[0].start(argv, env=install.java_env(self.java_home), cwd=data)

    def info(self) -> dict:
        with urllib.request.urlopen(f"{self.settings.trino.url}/v1/info", timeout=3) as resp:
            return json.loads(resp.read())

    def _catalog_answers(self) -> bool:
        # "starting": false comes a few seconds before the node list lets queries run
        # (NO_NODES_AVAILABLE until the 5 s discovery refresh): ready means a catalog query works
        return self.info().get("starting") is False and bool(
            self.query(f"show schemas from {self.settings.catalog.name}"))

    def wait_ready(self) -> None:
        proc = self.processes()[0]
        wait_for(self._catalog_answers, self.start_timeout, "Trino to answer a query on the Iceberg catalog",
                 alive=proc.running, log=proc.log_tail)
        self.ensure_views()

    def ensure_views(self) -> None:
        """(Re)create the contract-derived views over the Silver tables."""
        from headwater.contracts import stream_contracts
        from headwater.contracts.trino import view_sql

        for contract in stream_contracts():
            self.query(view_sql(contract, self.settings.catalog.name))

    def health(self) -> Health:
        try:
            info = self.info()
        except Exception as exc:
            return Health(False, f"{self.settings.trino.url} not answering: {exc}")
        if info.get("starting"):
            return Health(False, "starting")
        try:
            rows = self.query(f"show schemas from {self.settings.catalog.name}")
            schemas = sorted(r[0] for r in rows if r[0] != "information_schema")
        except Exception as exc:
            return Health(False, f"Trino {info['nodeVersion']['version']} up, catalog not readable: {exc}")
        return Health(True, f"Trino {info['nodeVersion']['version']}, {self.settings.catalog.name} schemas: "
                            f"{', '.join(schemas)}")

    def connect(self, session: dict[str, str] | None = None):  # -> trino.dbapi.Connection
        import trino

        t = self.settings.trino
        return trino.dbapi.connect(host=t.host, port=t.port, user=t.user, catalog=self.settings.catalog.name,
                                   http_scheme="http", session_properties=session or {})

    def query(self, sql: str, session: dict[str, str] | None = None) -> list[tuple]:
        """Run one statement (with Trino session properties, if given) and return all rows."""
        conn = self.connect(session)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    # -- CLI ---------------------------------------------------------------------------------
    def cli_argv(self, execute: str | None = None) -> list[str]:
        self.install()
        t = self.settings.trino
        argv = [str(self.java_home / "bin" / "java"), "-jar", str(self.cli_jar), "--server", t.url,
                "--user", t.user, "--catalog", self.settings.catalog.name]
        if execute:
            argv += ["--execute", execute]
        return argv

    def cli_env(self) -> dict[str, str]:
        env = install.java_env(self.java_home)
        if not shutil.which("less"):
            env.setdefault("TRINO_PAGER", "cat")  # the CLI's default pager is less
        return env


