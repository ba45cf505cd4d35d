"""Spark: PySpark in local mode (or against a cluster master) with the Iceberg runtime on the
shared JDBC catalog. There is no daemon: jobs run through the Spark environment's spark-submit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from headwater import PROJECT_ROOT, versions
from headwater.stack import install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.proc import ManagedProcess


class Spark(Service):
    name = "spark"
    title = "Spark"

    def processes(self) -> list[ManagedProcess]:
        return []

    def install(self) -> None:
        self.venv = install.ensure_venv(self.settings, "spark")
        self.jars = install.ensure_maven_group(self.settings, "spark")
        self.java_home = install.find_jdk(self.settings, "spark")

    def running(self) -> bool:
        return self.health().ok

    def start(self) -> None:
        """Nothing to start: jobs launch their own local Spark."""

    def conf(self) -> dict[str, str]:
        """Spark properties: the Iceberg catalog (named as everywhere else), time zone, local binding."""
        s = self.settings
        cat = f"spark.sql.catalog.{s.catalog.name}"
        conf = {
            "spark.master": s.spark.master,
            "spark.driver.memory": s.spark.driver_memory,
            "spark.driver.bindAddress": s.bind_host,
            "spark.driver.host": s.bind_host,
            # batch jobs need no web UI; it would open another port
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
            cat: "org.apache.iceberg.spark.SparkCatalog",
            "spark.sql.defaultCatalog": s.catalog.name,
            "spark.jars": ",".join(str(j) for j in sorted(self.jars.glob("*.jar"))),
        }
        for key, value in s.iceberg_catalog_properties().items():
            conf[f"{cat}.{key}"] = value
        conf.update(s.spark.conf)
        return conf

    def submit(self, script: Path, args: list[str] | None = None, capture: bool = False) -> subprocess.CompletedProcess:
        """Run a PySpark job with spark-submit from the Spark environment."""
        argv = [str(self.venv / "bin" / "spark-submit")]
        for key, value in self.conf().items():
            argv += ["--conf", f"{key}={value}"]
        argv += [str(script), *(args or [])]
        env = install.java_env(self.java_home)
        env.update({"PYTHONPATH": str(PROJECT_ROOT), "SPARK_LOCAL_IP": self.settings.bind_host,
                    "PYSPARK_PYTHON": str(install.venv_python(self.venv))})
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
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise StackError(f"Spark job {script.name} failed (exit {proc.returncode}); log {log}:\n{tail}")
        return proc

    def health(self) -> Health:
        try:
            venv = install.venv_dir(self.settings, "spark")
            if not (venv / install.MARKER).exists():
                return Health(False, "the Spark environment is not installed (run `make up`)")
            pyspark = next(p for p in versions.env_packages("spark") if p.startswith("pyspark"))
            detail = (f"{pyspark} {self.settings.spark.master}, "
                      f"Iceberg runtime on catalog {self.settings.catalog.name!r}")
            last = self.settings.run_dir / "spark" / "last-run.json"
            if last.exists():
                r = json.loads(last.read_text())
                detail += f"; last job {r['job']} exit {r['exit']} ({r['seconds']}s)"
            return Health(True, detail)
        except Exception as exc:
            return Health(False, str(exc))


