"""The Spark service's Spark Connect wiring, from the settings alone: which process and port the local
stack runs, and what a job does when the server it would run on is not there. No JVM starts here."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from headwater.settings import load_settings
from headwater.stack.errors import StackError
from headwater.stack.spark import Spark

pytestmark = pytest.mark.unit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_local_stack_runs_a_connect_server_on_its_port(tmp_path: Path):
    spark = Spark(load_settings({"HEADWATER_RUN_DIR": str(tmp_path), "HEADWATER_SPARK__CONNECT_PORT": "25002"}))
    assert [p.name for p in spark.processes()] == ["spark-connect"]
    assert spark.ports() == [(25002, "spark.connect_port")]
    assert spark.endpoints() == {"Spark Connect": "sc://127.0.0.1:25002"}


@pytest.mark.parametrize("env", [{"HEADWATER_SPARK__CONNECT": "false"},
                                 {"HEADWATER_SPARK__CONNECT_URL": "sc://elsewhere:15002"}])
def test_no_local_server_without_connect_or_with_a_server_elsewhere(tmp_path: Path, env: dict[str, str]):
    spark = Spark(load_settings({"HEADWATER_RUN_DIR": str(tmp_path), **env}))
    assert spark.processes() == [] and spark.ports() == []


def test_a_job_without_its_connect_server_says_how_to_start_it(tmp_path: Path):
    port = _free_port()  # nothing listens there
    spark = Spark(load_settings({"HEADWATER_RUN_DIR": str(tmp_path), "HEADWATER_SPARK__CONNECT_PORT": str(port)}))
    with pytest.raises(StackError, match=r"Spark Connect server \(sc://127.0.0.1:\d+\) is not running: start it "
                                         r"with `make up`.*HEADWATER_SPARK__CONNECT=false"):
        spark.submit(tmp_path / "job.py")
    assert not spark.health().ok
