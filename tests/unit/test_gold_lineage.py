"""The Airflow DAG's task graph follows the Gold tables' declared inputs.

``airflow/dags/gold_daily.py`` runs in the Airflow environment, ``spark_jobs/gold_daily.py`` in
Spark's: neither imports the other, so both are read as source here and compared.
"""

from __future__ import annotations

import ast

import pytest

from headwater import PROJECT_ROOT

pytestmark = pytest.mark.unit


def _tuple(node: ast.expr) -> tuple[str, ...]:
    return tuple(ast.literal_eval(node)) if isinstance(node, ast.Tuple) else ()


def gold_tables() -> dict[str, tuple[str, set[str]]]:
    """table -> (layer, the Gold and Silver tables it declares in ``upstream`` and ``uses``)."""
    tree = ast.parse((PROJECT_ROOT / "spark_jobs" / "gold_daily.py").read_text())
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "GoldTable":
            name, layer = (ast.literal_eval(a) for a in node.args[:2])
            inputs = {t for k in node.keywords if k.arg in ("upstream", "uses") for t in _tuple(k.value)}
            out[name] = (layer, inputs)
    return out


def dag_lineage() -> dict[str, tuple[str, ...]]:
    tree = ast.parse((PROJECT_ROOT / "airflow" / "dags" / "gold_daily.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "LINEAGE":
            return ast.literal_eval(node.value)
    raise AssertionError("LINEAGE not found in the DAG")


def test_every_gold_table_has_a_task_after_the_tables_it_reads():
    tables, lineage = gold_tables(), dag_lineage()
    assert len(tables) >= 20  # the parse found the table list
    built = {n for n, (layer, _) in tables.items() if layer != "dimension"}
    # dimensions are one task; every other table is its own
    assert set(lineage) == built
    for name in built:
        reads = {t for t in tables[name][1] if t in built}
        assert set(lineage[name]) - {"dimensions"} == reads, name
