"""The streaming benchmark's pure helpers: the per-checkpoint timeline and the rate over busy intervals."""

from __future__ import annotations

import math

import pytest

from bench.streaming_throughput import busy_rate, commit_timeline

pytestmark = pytest.mark.unit


def test_timeline_starts_at_the_first_rows_and_stops_at_the_backlog_end():
    commits = [(100.0, 0), (110.0, 0), (120.0, 300), (130.0, 700), (140.0, 1100), (145.0, 1200), (150.0, 1250)]
    timeline = commit_timeline(commits, since=95.0, until_rows=1200)
    assert [c["rows"] for c in timeline] == [400, 400, 100]  # empty commits and those after the end left out
    assert [c["seconds"] for c in timeline] == [10.0, 10.0, 5.0]
    assert [c["at_s"] for c in timeline] == [35.0, 45.0, 50.0]
    assert [c["rows_per_s"] for c in timeline] == [40, 40, 20]


def test_busy_rate_leaves_out_the_interval_in_which_the_backlog_ran_out():
    timeline = commit_timeline([(0.0, 10), (10.0, 410), (30.0, 1210), (33.0, 1230)], since=0.0, until_rows=1230)
    assert busy_rate(timeline) == pytest.approx(1200 / 30)  # the last 20 rows in 3 s do not count
    assert math.isnan(busy_rate(timeline[-1:]))  # a backlog done within one interval has no busy interval
