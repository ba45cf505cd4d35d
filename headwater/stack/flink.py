"""Apache Flink: a standalone session cluster (one JobManager, one TaskManager) from the
``apache-flink`` wheel, with the project's own lib and conf directories, plus job control
(submit, resume from the newest checkpoint or savepoint, stop with a savepoint).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from headwater import PROJECT_ROOT, versions
from headwater.settings import Settings
from headwater.stack import hadoop, install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.proc import ManagedProcess, wait_for

#: Java sources of the project's Flink functions (compiled at install into a jar in Flink's lib)
UDF_SOURCES = PROJECT_ROOT / "flink_jobs" / "java"


def ensure_udf_jar(settings: Settings, flink_home: Path, java_home: Path) -> Path:
    """Compile the project's Flink functions (``flink_jobs/java``) into a jar cached by source hash.

    They compile against the jars of the installed Flink distribution (which also carries the
    shaded Jackson they parse with), so nothing beyond the JDK is fetched.
    """
    return install.compile_jar(settings, "headwater-flink-udf", UDF_SOURCES,
                               sorted((flink_home / "lib").glob("*.jar")), java_home)


def in_process_udf_jar() -> Path:
    """The functions' jar for a PyFlink mini-cluster in this interpreter (tests; set ``pipeline.jars``).

    Runs inside the Flink environment: the distribution is the imported ``pyflink``, the JDK the
    one ``JAVA_HOME`` names (the engine runner sets it), else the one the installer would pick.
    """
    import os

    import pyflink

    from headwater.settings import load_settings

    settings = load_settings()
    home = Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else install.find_jdk(settings, "flink")
    return ensure_udf_jar(settings, Path(pyflink.__file__).parent, home)


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested mapping, replacing a flat ``a.b.c`` key if the file used one."""
    tree.pop(dotted, None)
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


class Flink(Service):
    name = "flink"
    title = "Flink"
    start_timeout = 120

    def processes(self) -> list[ManagedProcess]:
        return [ManagedProcess("flink-jobmanager", self.settings.run_dir),
                ManagedProcess("flink-taskmanager", self.settings.run_dir)]

    @property
    def home(self) -> Path:
        return self.settings.run_dir / "flink"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    def ports(self) -> list[tuple[int, str]]:
        f = self.settings.flink
        return [(f.port, "HEADWATER_FLINK__REST_URL"), (f.rpc_port, "HEADWATER_FLINK__RPC_PORT"),
                (f.blob_port, "HEADWATER_FLINK__BLOB_PORT")]

    def endpoints(self) -> dict[str, str]:
        return {"Flink dashboard": self.settings.flink.rest_url}

    # -- install -------------------------------------------------------------------------
    def install(self) -> None:
        self.venv = install.ensure_venv(self.settings, "flink")
        self.flink_home = install.site_packages(self.venv) / "pyflink"
        self.java_home = install.find_jdk(self.settings, "flink")
        connectors = install.ensure_maven_group(self.settings, "flink")
        self.udf_jar = ensure_udf_jar(self.settings, self.flink_home, self.java_home)
        # in lib, not the job's jars: Iceberg's Hadoop IO resolves fs.file.impl in the TaskManager's
        # own class loader as well as in the job's
        local_fs = hadoop.local_fs_jar(self.settings, sorted(connectors.glob("*.jar")), self.java_home)
        self.lib_dir = self._lib_dir(connectors, [local_fs])

    def _lib_dir(self, connectors: Path, own_jars: list[Path]) -> Path:
        """The distribution's lib jars, the connector jars and the project's own, in a directory the project owns."""
        own = versions.fingerprint(sorted(str(j) for j in own_jars))
        lib = connectors.parent / f"flink-lib-{self.venv.name}-{connectors.name}-{own}"
        if (lib / install.MARKER).exists():
            return lib
        lib.mkdir(parents=True, exist_ok=True)
        for jar in [*(self.flink_home / "lib").glob("*.jar"), *connectors.glob("*.jar"), *own_jars]:
            link = lib / jar.name
            if not link.exists():
                link.symlink_to(jar)
        (lib / install.MARKER).touch()
        return lib

    def env(self) -> dict[str, str]:
        env = install.java_env(self.java_home)
        env.update({
            "FLINK_HOME": str(self.flink_home),
            "FLINK_CONF_DIR": str(self.conf_dir),
            "FLINK_LIB_DIR": str(self.lib_dir),
            "FLINK_LOG_DIR": str(self.settings.logs_dir / "flink"),
            # the client runs the job's Python planning code with the Flink environment's interpreter
            "PYFLINK_CLIENT_EXECUTABLE": str(install.venv_python(self.venv)),
            "PYTHONPATH": str(PROJECT_ROOT),
        })
        return env

    def write_config(self) -> None:
        s, f = self.settings, self.settings.flink
        with (self.flink_home / "conf" / "config.yaml").open() as fh:
            conf = yaml.safe_load(fh) or {}
        values = {
            "jobmanager.rpc.address": s.bind_host,
            "jobmanager.rpc.port": f.rpc_port,
            "jobmanager.bind-host": s.bind_host,
            "jobmanager.memory.process.size": f.jobmanager_memory,
            "taskmanager.bind-host": s.bind_host,
            "taskmanager.host": s.bind_host,
            # the TaskManager's RPC and data ports stay random (on the loopback bind host): a TaskManager
            # restarted on the address of one that died is refused by the JobManager's RPC system
            # ("read-only association") until that address's quarantine expires
            "taskmanager.rpc.port": 0,
            "taskmanager.data.port": 0,
            "taskmanager.numberOfTaskSlots": f.taskmanager_slots,
            "taskmanager.memory.process.size": f.taskmanager_memory,
            # network buffers of 256 KiB, not 32: a mini-batch operator emits its bundle in one burst
            # (table.exec.mini-batch.size, flink_jobs/ingest.py), during which the upstream task goes on
            # filling buffers; with 32 KiB ones the ingest job's source was back-pressured two fifths of
            # the time while its dedup sat idle just as long
            "taskmanager.memory.segment-size": "256kb",
            "rest.address": s.bind_host,
            "rest.bind-address": s.bind_host,
            "rest.port": f.port,
            "blob.server.port": f.blob_port,
            "parallelism.default": f.parallelism,
            "execution.checkpointing.dir": s.checkpoint_dir,
            "execution.checkpointing.savepoint-dir": s.savepoint_dir,
            # keep the last checkpoints when a job is cancelled or the cluster dies: `submit` resumes from them
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "execution.checkpointing.num-retained": 3,
            "state.backend.type": f.state_backend,
            # managed memory is off-heap memory for RocksDB (and batch operators, Python functions): with
            # state on the heap it sat unused, 40 % of the TaskManager, while the heap held the dedup
            # state and G1's marking took a third of the machine's CPU in the streaming benchmark
            "taskmanager.memory.managed.fraction": 0.4 if f.state_backend == "rocksdb" else 0.05,  # 0.4: Flink's
            # only the changed state files are uploaded per checkpoint (RocksDB)
            "execution.checkpointing.incremental": f.state_backend == "rocksdb",
            # the throughput collector, not G1: the TaskManager's heap is mostly short-lived rows (plus the
            # dedup state with the hashmap backend), and G1's concurrent marking and barriers cost more CPU
            # than its shorter pauses are worth on a 2-core machine (README, Benchmarks: the bench's runs)
            "env.java.opts.taskmanager": "-XX:+UseParallelGC",
            # Hadoop's file: scheme without a forked chmod per file Iceberg writes (headwater/stack/hadoop.py)
            "flink.hadoop.fs.file.impl": hadoop.LOCAL_FS_CLASS,
            "io.tmp.dirs": str(self.home / "tmp"),
            "python.executable": str(install.venv_python(self.venv)),
            "web.cancel.enable": True,
        }
        for key, value in values.items():
            _set(conf, key, value)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "tmp").mkdir(exist_ok=True)
        (self.conf_dir / "config.yaml").write_text(
            "# Written by headwater on every start; change settings, not this file.\n" + yaml.safe_dump(conf))
        for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties", "logback-console.xml"):
            src = self.flink_home / "conf" / name
            if src.exists():
                (self.conf_dir / name).write_text(src.read_text())

    # -- run -------------------------------------------------------------------------------
    def start(self) -> None:
        self.write_config()
        env = self.env()
        jm, tm = self.processes()
        bin_dir = self.flink_home / "bin"
        if not jm.running():
            jm.start(["bash", str(bin_dir / "jobmanager.sh"), "start-foreground"], env=env)
        if not tm.running():
            tm.start(["bash", str(bin_dir / "taskmanager.sh"), "start-foreground"], env=env)

    def rest(self, path: str, method: str = "GET", body: dict | None = None, timeout: float = 10) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.settings.flink.rest_url.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def _ready(self) -> bool:
        overview = self.rest("/overview", timeout=3)
        return overview.get("taskmanagers", 0) >= 1 and overview.get("slots-total", 0) >= 1

    def wait_ready(self) -> None:
        jm, tm = self.processes()
        wait_for(self._ready, self.start_timeout, "the Flink JobManager and a TaskManager to register",
                 alive=lambda: jm.running() and tm.running(),
                 log=lambda: jm.log_tail(10) + "\n" + tm.log_tail(10))

    def health(self) -> Health:
        try:
            o = self.rest("/overview", timeout=3)
        except Exception as exc:
            return Health(False, f"dashboard {self.settings.flink.rest_url} not answering: {exc}")
        ok = o.get("taskmanagers", 0) >= 1
        jobs = self.jobs()
        running = [j["name"] for j in jobs if j["state"] == "RUNNING"]
        return Health(ok, f"Flink {o.get('flink-version')}, {o.get('taskmanagers')} TaskManager, "
                          f"{o.get('slots-available')}/{o.get('slots-total')} slots free, "
                          f"running jobs: {', '.join(running) or 'none'}",
                      {"jobs": jobs})

    # -- jobs ------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        """Jobs known to the cluster: id, name, state, start time."""
        try:
            data = self.rest("/jobs/overview", timeout=5)
        except (urllib.error.URLError, OSError):
            return []
        return [{"id": j["jid"], "name": j["name"], "state": j["state"], "start_time": j.get("start-time")}
                for j in data.get("jobs", [])]

    def running_job(self, name: str) -> dict[str, Any] | None:
        for job in self.jobs():
            if job["name"] == name and job["state"] in ("RUNNING", "CREATED", "INITIALIZING", "RESTARTING"):
                return job
        return None

    @property
    def jobs_file(self) -> Path:
        return self.home / "jobs.json"

    def _job_records(self) -> dict[str, Any]:
        try:
            return json.loads(self.jobs_file.read_text())
        except (OSError, ValueError):
            return {}

    def _record(self, name: str, **fields: Any) -> None:
        records = self._job_records()
        records.setdefault(name, {}).update(fields)
        self.jobs_file.parent.mkdir(parents=True, exist_ok=True)
        self.jobs_file.write_text(json.dumps(records, indent=2))

    def forget_job(self, name: str) -> dict[str, Any]:
        """Drop a job's record (so the next submit starts fresh); return what it held."""
        records = self._job_records()
        record = records.pop(name, {})
        if self.jobs_file.exists():
            self.jobs_file.write_text(json.dumps(records, indent=2))
        return record

    def restore_point(self, name: str) -> str | None:
        """The newest savepoint or retained checkpoint of a job, by name, if any."""
        record = self._job_records().get(name, {})
        candidates: list[tuple[float, str]] = []
        savepoint = record.get("savepoint")
        if savepoint and Path(savepoint.removeprefix("file:")).exists():
            candidates.append((Path(savepoint.removeprefix("file:")).stat().st_mtime, savepoint))
        job_id = record.get("job_id")
        ckpt_root = self.settings.checkpoint_dir
        if job_id and ckpt_root.startswith("file:"):
            for chk in Path(ckpt_root.removeprefix("file://")).joinpath(job_id).glob("chk-*"):
                if (chk / "_metadata").exists():
                    candidates.append((chk.stat().st_mtime, str(chk)))
        return max(candidates)[1] if candidates else None

    def submit(self, name: str, script: Path, args: list[str], parallelism: int | None = None) -> str:
        """Submit a PyFlink job unless one of that name runs; resume from its newest state."""
        running = self.running_job(name)
        if running:
            install.say(f"Flink job {name} already running ({running['id']})")
            return running["id"]
        restore = self.restore_point(name)
        argv = [str(self.flink_home / "bin" / "flink"), "run", "-d", "-m", self._jm_address(),
                "-py", str(script), "-pyexec", str(install.venv_python(self.venv)),
                # the project's functions travel with the job, so a remote cluster needs no install
                "-j", str(self.udf_jar)]
        if parallelism:
            argv[3:3] = ["-p", str(parallelism)]
        if restore:
            # -n: when the contracts changed (a stream added), operators of the new graph that have no
            # saved state start fresh; their Kafka sources then resume from the group's committed offsets
            argv += ["-s", restore, "-n"]
            install.say(f"submitting Flink job {name}, resuming from {restore}")
        else:
            install.say(f"submitting Flink job {name} (no earlier state: starting from committed offsets)")
        argv += args
        log = ManagedProcess(f"flink-submit-{name}", self.settings.run_dir).log_file
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.run(argv, env=self.env(), stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        m = re.findall(r"JobID ([0-9a-f]{32})", tail)
        if proc.returncode != 0 or not m:
            raise StackError(f"submitting Flink job {name} failed (exit {proc.returncode}); log {log}:\n{tail}")
        job_id = m[-1]
        self._record(name, job_id=job_id, submitted_at=time.time(), restored_from=restore)
        wait_for(lambda: self._job_state(job_id) == "RUNNING", 120, f"Flink job {name} to run",
                 alive=lambda: self._job_state(job_id) not in ("FAILED", "CANCELED", "FINISHED"),
                 log=lambda: self._job_exception(job_id))
        return job_id

    def restarts(self, job_id: str) -> int:
        """How often the job restarted since it was submitted (Flink's numRestarts metric)."""
        metrics = self.rest(f"/jobs/{job_id}/metrics?get=numRestarts", timeout=5)
        return int(metrics[0]["value"]) if metrics else 0

    def _jm_address(self) -> str:
        return self.settings.flink.rest_url.split("://", 1)[-1].rstrip("/")

    def _job_state(self, job_id: str) -> str:
        return self.rest(f"/jobs/{job_id}", timeout=5)["state"]

    def _job_exception(self, job_id: str) -> str:
        try:
            data = self.rest(f"/jobs/{job_id}/exceptions", timeout=5)
            root = (data.get("exceptionHistory") or {}).get("entries") or []
            return root[0]["stacktrace"][:3000] if root else json.dumps(data)[:3000]
        except Exception as exc:  # the explanation is best effort
            return f"(could not read the job's exceptions: {exc})"

    def stop_job(self, name: str, timeout: float = 180) -> str | None:
        """Stop a running job with a savepoint; return the savepoint path (None if not running)."""
        job = self.running_job(name)
        if not job:
            return None
        trigger = self.rest(f"/jobs/{job['id']}/stop", method="POST",
                            body={"drain": False, "targetDirectory": self.settings.savepoint_dir})
        request_id = trigger["request-id"]

        def done() -> dict | None:
            status = self.rest(f"/jobs/{job['id']}/savepoints/{request_id}", timeout=5)
            return status if status["status"]["id"] == "COMPLETED" else None

        status = wait_for(done, timeout, f"a savepoint of Flink job {name}")
        operation = status.get("operation", {})
        if "failure-cause" in operation:
            raise StackError(f"stopping {name} with a savepoint failed: {operation['failure-cause']}")
        location = operation["location"]
        self._record(name, savepoint=location, job_id=job["id"], stopped_at=time.time())
        return location

    def stop(self) -> bool:
        if self.processes()[0].running():
            for job in self.jobs():
                if job["state"] == "RUNNING":
                    try:
                        location = self.stop_job(job["name"])
                        install.say(f"stopped Flink job {job['name']} with savepoint {location}")
                    except Exception as exc:  # the retained checkpoint is the fallback
                        install.say(f"could not savepoint {job['name']} ({exc}); its last checkpoint remains")
        return super().stop()


