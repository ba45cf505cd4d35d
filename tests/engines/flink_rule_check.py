"""Run inside the Flink environment: evaluate the contract-derived Flink SQL on given records.

Reads a JSON list of raw payload strings on stdin, prints a JSON list of
{"reason": ..., "fields": {...}} as Flink computes them (batch mode, mini-cluster).
"""

import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

from headwater.contracts import load_contract
from headwater.contracts.flink import parse_expr, reason_exprs


def main() -> None:
    contract = load_contract(sys.argv[1])
    payloads = json.load(sys.stdin)
    tenv = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    tenv.get_config().set("table.local-time-zone", "UTC")
    tenv.get_config().set("parallelism.default", "1")
    rows = ", ".join(f"({i}, '" + p.replace("'", "''") + "')" for i, p in enumerate(payloads))
    reason, _ = reason_exprs(contract, "p")
    cols = ", ".join(f"CAST({parse_expr(f, 'p')} AS STRING) AS `{f.name}`" for f in contract.fields)
    sql = f"SELECT i, {reason} AS reason, {cols} FROM (VALUES {rows}) AS v(i, p)"
    out = {}
    names = [f.name for f in contract.fields]
    for row in tenv.execute_sql(sql).collect():
        out[row[0]] = {"reason": row[1], "fields": dict(zip(names, row[2:], strict=True))}
    json.dump([out[i] for i in range(len(payloads))], sys.stdout)


if __name__ == "__main__":
    main()
