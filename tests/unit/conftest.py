"""Unit fixtures: engine environments (no services) for tests that run Flink or Spark in-process."""

from __future__ import annotations

import json
import subprocess

import pytest

from headwater import PROJECT_ROOT
from headwater.settings import load_settings
from headwater.stack import install
from headwater.stack.spark import QUICK_JIT_OPTION


def run_in_engine(env: str, component: str, script: str, args: list[str], payload: object) -> object:
    """Run a check script with an engine's own Python (installed on first use) and its JDK."""
    settings = load_settings()
    venv = install.ensure_venv(settings, env)
    proc_env = install.java_env(install.find_jdk(settings, component))
    proc_env["PYTHONPATH"] = str(PROJECT_ROOT)
    proc_env["SPARK_LOCAL_IP"] = settings.bind_host
    # runs of a few seconds: the client compiler alone finishes them sooner (as spark.jit: quick does)
    proc_env["JDK_JAVA_OPTIONS"] = QUICK_JIT_OPTION
    proc = subprocess.run([str(install.venv_python(venv)), str(PROJECT_ROOT / "tests" / "engines" / script), *args],
                          input=json.dumps(payload), capture_output=True, text=True, env=proc_env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def engine():
    return run_in_engine
