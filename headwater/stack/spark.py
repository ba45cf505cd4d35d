"""Spark: PySpark in local mode (or against a cluster master) with the Iceberg runtime on the
shared JDBC catalog. Jobs run on a Spark Connect server (below) or through the Spark environment's
spark-submit.

A job with a driver of its own starts a JVM, which on two cores spends most of a small job loading classes.
``install()`` therefore records a class data sharing archive once (a short warm-up job run with
``-XX:ArchiveClassesAtExit``), and every job's driver maps it. The JVM checks the archive against its
own version and class path and ignores one that does not match, so a stale archive costs time, not
correctness. ``spark.class_data_sharing: false`` turns this off.

The same JVM spends much of a short job compiling its own hot code: with ``spark.jit: quick`` the
driver compiles with the client compiler only, which finishes a job over a small window sooner on
two cores; jobs over large windows want the default, ``full``.

With ``spark.connect`` (the default) the local stack also runs a Spark Connect server: one driver JVM
with the same properties that stays up, and jobs run as its clients (the job's Python in the Spark
environment, with ``SPARK_REMOTE``). A job then starts no JVM, and the server's classes are loaded
and its hot code compiled once, not per job: a +1 % Gold refresh took 0.61-0.72 of its time in a
driver of its own (bench/gold_build.py and an alternating trial).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from headwater import PROJECT_ROOT, versions
from headwater.stack import hadoop, install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.proc import ManagedProcess, port_open, wait_for

#: the driver JVM options of ``spark.jit: quick``: the client compiler only, with the code cache the
#: full JIT gets (240 MB; alone, that flag leaves 48 MB, which a Gold run fills within a minute, and
#: the JVM then stops compiling for good)
QUICK_JIT_OPTION = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
#: the Spark Connect server's main class (in the PySpark wheel's spark-connect jar)
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _escape(value: str) -> str:
    """A value for a Java properties file (spark-submit's ``--properties-file``): backslashes doubled."""
    return value.replace("\\", "\\\\")


class Spark(Service):
    name = "spark"
    title = "Spark"

    start_timeout = 180.0

    @property
    def serves_connect(self) -> bool:
        """The local stack runs the Spark Connect server (``spark.connect`` in the local profile)."""
        return self.settings.is_local and self.settings.spark.connect and not self.settings.spark.connect_url

    def processes(self) -> list[ManagedProcess]:
        return [ManagedProcess("spark-connect", self.settings.run_dir)] if self.serves_connect else []

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.spark.connect_port, "spark.connect_port")] if self.serves_connect else []

    def endpoints(self) -> dict[str, str]:
        remote = self.settings.spark_remote
        return {"Spark Connect": remote} if remote else {}

    def install(self) -> None:
        self.venv = install.ensure_venv(self.settings, "spark")
        self.jars = install.ensure_maven_group(self.settings, "spark")
        self.java_home = install.find_jdk(self.settings, "spark")
        spark_jars = sorted((install.site_packages(self.venv) / "pyspark" / "jars").glob("*.jar"))
        self.local_fs_jar = hadoop.local_fs_jar(self.settings, spark_jars, self.java_home)
        if self.settings.spark.class_data_sharing:
            self.ensure_class_archive()

    def class_archive(self) -> Path:
        """Where the driver's class archive for this environment, JDK and jar set lives (in the cache)."""
        jars = sorted((j.name, j.stat().st_size) for j in self.driver_jars(local=True))
        key = versions.fingerprint([str(self.venv), str(self.java_home), jars])
        return self.settings.cache_dir / "spark-classes" / f"driver-{key}.jsa"

    def ensure_class_archive(self) -> Path:
        """Record the class archive once (about a minute), by running the warm-up job with ``ArchiveClassesAtExit``."""
        archive = self.class_archive()
        if archive.exists():
            return archive
        with install.cache_lock(self.settings, "spark-classes"):
            if archive.exists():
                return archive
            archive.parent.mkdir(parents=True, exist_ok=True)
            partial = archive.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            install.say("Spark: recording a class archive so that jobs start faster (once, about a minute)")
            start = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="headwater-spark-warmup-") as folder:
                # in this process's JVM whatever the master (its temp folder is local): the archive
                # holds the driver's classes, and a local master's driver loads the executors' too
                self.submit(Path(__file__).with_name("spark_warmup.py"), [folder], capture=True,
                            java_options=f"-XX:ArchiveClassesAtExit={partial}", master="local[2]")
            if not partial.exists():
                raise StackError(f"the Spark warm-up job ran but wrote no class archive at {partial}; set "
                                 "spark.class_data_sharing: false to run without one")
            partial.rename(archive)
            install.say(f"Spark class archive {archive.name} recorded in {time.monotonic() - start:.0f}s")
        return archive

    def running(self) -> bool:
        if self.serves_connect:
            return super().running() and self._connect_answers()
        return self.health().ok

    def start(self) -> None:
        """Start the Spark Connect server (with ``spark.connect``); else nothing: jobs launch their own Spark."""
        if not self.serves_connect:
            return
        conf = {
            # a long-lived driver: its INFO lines (every task of every job) would fill the log
            "spark.log.level": "WARN",
            "spark.sql.warehouse.dir": str(self.settings.run_dir / "spark" / "warehouse"),
            **self.conf(),
            "spark.connect.grpc.binding.address": self.settings.bind_host,
            "spark.connect.grpc.binding.port": str(self.settings.spark.connect_port),
        }
        java_options = self.driver_java_options(server=True)
        if java_options:
            conf["spark.driver.extraJavaOptions"] = " ".join(
                filter(None, [conf.get("spark.driver.extraJavaOptions"), java_options]))
        # in a file only its owner reads, not on the command line (which the log and `ps` show): it holds
        # the catalog database's password
        props = self.settings.run_dir / "spark" / "connect-server.properties"
        props.parent.mkdir(parents=True, exist_ok=True)
        props.touch(mode=0o600)
        props.chmod(0o600)
        props.write_text("".join(f"{key} {_escape(value)}\n" for key, value in conf.items()))
        # spark-internal: spark-submit's name for "no application file, the main class is in Spark's jars"
        argv = [str(self.venv / "bin" / "spark-submit"), "--properties-file", str(props),
                "--class", CONNECT_SERVER_CLASS, "spark-internal"]
        self.processes()[0].start(argv, env=self._env(), cwd=PROJECT_ROOT)

    def _connect_answers(self) -> bool:
        return port_open(self.settings.bind_host, self.settings.spark.connect_port)

    def wait_ready(self) -> None:
        if not self.serves_connect:
            return
        proc = self.processes()[0]
        # the gRPC port opens once the driver, its session and the Iceberg extensions are up
        wait_for(self._connect_answers, self.start_timeout, "the Spark Connect server to accept connections",
                 alive=proc.running, log=proc.log_tail)

    def _env(self) -> dict[str, str]:
        env = install.java_env(self.java_home)
        env.update({"PYTHONPATH": str(PROJECT_ROOT), "SPARK_LOCAL_IP": self.settings.bind_host,
                    "PYSPARK_PYTHON": str(install.venv_python(self.venv))})
        return env

    def driver_jars(self, local: bool) -> list[Path]:
        """The jars added to the driver's class path: Iceberg's and, for a local master, the file system's."""
        jars = sorted(self.jars.glob("*.jar"))
        return [*jars, self.local_fs_jar] if local else jars

    def conf(self, master: str | None = None) -> dict[str, str]:
        """Spark properties: the Iceberg catalog (named as everywhere else), time zone, local binding.

        ``master``: another master than the setting's (the warm-up job runs locally).
        """
        s = self.settings
        master = master or s.spark.master
        cat = f"spark.sql.catalog.{s.catalog.name}"
        conf = {
            "spark.master": master,
            "spark.driver.memory": s.spark.driver_memory,
            "spark.driver.bindAddress": s.bind_host,
            "spark.driver.host": s.bind_host,
            # batch jobs need no web UI; it would open another port
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
            cat: "org.apache.iceberg.spark.SparkCatalog",
            "spark.sql.defaultCatalog": s.catalog.name,
        }
        local = master.startswith("local")
        jars = self.driver_jars(local)
        # on the driver's class path, not only spark.jars' class loader: the class archive covers
        # classes of the application class path only (a local master's executors share that JVM)
        conf["spark.driver.extraClassPath"] = os.pathsep.join(map(str, jars))
        if local:
            # Hadoop's file: scheme without a forked chmod per file written (headwater/stack/hadoop.py);
            # a cluster's executors keep Hadoop's own
            conf["spark.hadoop.fs.file.impl"] = hadoop.LOCAL_FS_CLASS
        else:
            conf["spark.jars"] = ",".join(map(str, jars))  # shipped to a cluster's executors
        for key, value in s.iceberg_catalog_properties().items():
            conf[f"{cat}.{key}"] = value
        conf.update(s.spark.conf)
        return conf

    def driver_java_options(self, server: bool = False) -> str:
        """The driver JVM's options from the settings: the class archive (once recorded) and the JIT.

        ``server``: the Spark Connect server's, which always compiles fully: it lives for many jobs, so the
        optimising compiler's cost is paid once (``spark.jit`` is for drivers that live for one job).
        """
        options = []
        if self.settings.spark.class_data_sharing:
            archive = self.class_archive()
            if archive.exists():
                options.append(f"-XX:SharedArchiveFile={archive}")
        if self.settings.spark.jit == "quick" and not server:
            options.append(QUICK_JIT_OPTION)
        return " ".join(options)

    def submit(self, script: Path, args: list[str] | None = None, capture: bool = False,
               java_options: str | None = None, master: str | None = None) -> subprocess.CompletedProcess:
        """Run a PySpark job: as a client of the Spark Connect server (``spark.connect``), else with
        spark-submit from the Spark environment in a driver of its own.

        ``java_options``: driver JVM options in place of the class archive and the JIT choice (the warm-up
        job's); ``master``: another master than the setting's (the warm-up job runs locally). Either runs
        the job in a driver of its own.
        """
        remote = self.settings.spark_remote if java_options is None and master is None else None
        if remote:
            self._check_remote(remote)
        env = self._env()
        if remote:
            argv = [str(install.venv_python(self.venv)), str(script), *(args or [])]
            env["SPARK_REMOTE"] = remote
        else:
            argv = [str(self.venv / "bin" / "spark-submit")]
            conf = self.conf(master)
            if java_options is None:
                java_options = self.driver_java_options()
            if java_options:
                conf["spark.driver.extraJavaOptions"] = " ".join(
                    filter(None, [conf.get("spark.driver.extraJavaOptions"), java_options]))
            for key, value in conf.items():
                argv += ["--conf", f"{key}={value}"]
            argv += [str(script), *(args or [])]
        log = ManagedProcess(f"spark-{script.stem}", self.settings.run_dir).log_file
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with log.open("ab") as out:
            if capture:
                proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=out, cwd=PROJECT_ROOT, text=True)
            else:
                # the job's own lines (what it built, checked, caught up) go to the log and to the caller's
                # output (a terminal, an Airflow task log); Spark's logging (stderr) to the log only
                child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=out, cwd=PROJECT_ROOT)
                assert child.stdout is not None
                for line in child.stdout:
                    out.write(line)
                    out.flush()
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
                proc = subprocess.CompletedProcess(argv, child.wait())
        record = {"job": script.stem, "exit": proc.returncode, "seconds": round(time.monotonic() - start, 1),
                  "finished_at": time.time()}
        (self.settings.run_dir / "spark").mkdir(parents=True, exist_ok=True)
        (self.settings.run_dir / "spark" / "last-run.json").write_text(json.dumps(record))
        if proc.returncode != 0:
            # a captured job's output holds its Python traceback (Spark's log holds the JVM's side)
            out = (proc.stdout or "").splitlines() if capture else []
            tb = [i for i, line in enumerate(out) if line.startswith("Traceback")]
            lines = out[tb[-1]:tb[-1] + 40] if tb else log.read_text(errors="replace").splitlines()[-40:]
            tail = "\n".join(lines)
            raise StackError(f"Spark job {script.name} failed (exit {proc.returncode}); log {log}:\n{tail}")
        return proc

    def _check_remote(self, remote: str) -> None:
        """Stop with what to do when the Spark Connect server a job would run on does not answer."""
        if self.serves_connect and not self._connect_answers():
            raise StackError(f"the Spark Connect server ({remote}) is not running: start it with `make up` (or "
                             "`headwater up --only spark`), or set HEADWATER_SPARK__CONNECT=false to run each job "
                             "in a driver of its own")

    def health(self) -> Health:
        if self.serves_connect and not self._connect_answers():
            return Health(False, f"the Spark Connect server does not accept connections on "
                                 f"{self.settings.bind_host}:{self.settings.spark.connect_port}")
        try:
            venv = install.venv_dir(self.settings, "spark")
            if not (venv / install.MARKER).exists():
                return Health(False, "the Spark environment is not installed (run `make up`)")
            pyspark = next(p for p in versions.env_packages("spark") if p.startswith("pyspark"))
            pyspark = pyspark.replace("[connect]", "")
            detail = (f"{pyspark} {self.settings.spark.master}, "
                      f"Iceberg runtime on catalog {self.settings.catalog.name!r}")
            if self.settings.spark_remote:
                detail += f", jobs on the Spark Connect server {self.settings.spark_remote}"
            last = self.settings.run_dir / "spark" / "last-run.json"
            if last.exists():
                r = json.loads(last.read_text())
                detail += f"; last job {r['job']} exit {r['exit']} ({r['seconds']}s)"
            return Health(True, detail)
        except Exception as exc:
            return Health(False, str(exc))


