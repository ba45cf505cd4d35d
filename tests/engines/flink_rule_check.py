"""Run inside the Flink environment: evaluate the contract-derived Flink SQL on given records.

stdin: {"contract": name, "max_record_bytes": n, "records": [[key_hex|null, value_hex|null], ...]}
stdout: a JSON list of {"reason": ..., "fields": {...}, "event_time": ...} as Flink computes them
(batch, mini-cluster); the event time is the one a Kafka source stamps for its watermark.
"""

import dataclasses
import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

from headwater.contracts import load_contract
from headwater.contracts.flink import FUNCTION_DDLS, TYPED_PREFIX, event_time_expr, parsed_select
from headwater.stack.flink import in_process_udf_jar


def _bytes(hex_or_none: str | None) -> str:
    return "CAST(NULL AS BYTES)" if hex_or_none is None else f"CAST(X'{hex_or_none}' AS BYTES)"


def main() -> None:
    request = json.load(sys.stdin)
    contract = dataclasses.replace(load_contract(request["contract"]), max_record_bytes=request["max_record_bytes"])
    records = request["records"]
    tenv = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    tenv.get_config().set("table.local-time-zone", "UTC")
    tenv.get_config().set("parallelism.default", "1")
    tenv.get_config().set("pipeline.jars", in_process_udf_jar().as_uri())
    for ddl in FUNCTION_DDLS:
        tenv.execute_sql(ddl)
    rows = ", ".join(f"({i}, {_bytes(k)}, {_bytes(v)})" for i, (k, v) in enumerate(records))
    # the same layered select the ingest job runs
    tenv.execute_sql(f"CREATE TEMPORARY VIEW records AS SELECT * FROM (VALUES {rows}) AS t(i, k, v)")
    parsed = parsed_select(contract, "records", "`v`", "`k`", arrival="CURRENT_TIMESTAMP")
    cols = ", ".join(f"CAST(`{TYPED_PREFIX}{f.name}` AS STRING) AS `{f.name}`" for f in contract.fields)
    event_time = event_time_expr(contract, "`v`", arrival="CURRENT_TIMESTAMP")
    sql = f"SELECT i, reason, CAST({event_time} AS STRING), {cols} FROM ({parsed})"
    out = {}
    names = [f.name for f in contract.fields]
    for row in tenv.execute_sql(sql).collect():
        out[row[0]] = {"reason": row[1], "event_time": row[2], "fields": dict(zip(names, row[3:], strict=True))}
    json.dump([out[i] for i in range(len(records))], sys.stdout)


if __name__ == "__main__":
    main()
