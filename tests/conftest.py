"""Settings every test run shares, before any fixture starts a service or a job."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Test windows hold a few thousand rows: Spark drivers compiled with the client JIT only finish
    # them 20-50 % sooner (bench/spark_start.py). Set here, the choice reaches every job the tests
    # start, Airflow's tasks included; an explicit HEADWATER_SPARK__JIT still wins.
    os.environ.setdefault("HEADWATER_SPARK__JIT", "quick")
