"""Run inside the Flink environment: evaluate a declared Silver aggregate over given rows (batch).

stdin: {"aggregate": name, "rows": [{column: value, ...}, ...]} with the source stream's fields
stdout: the aggregate's rows as JSON (values as strings)
"""

import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

from headwater.contracts import load_contract
from headwater.contracts.aggregates import aggregates
from headwater.contracts.flink import FUNCTION_DDLS, flink_type
from headwater.stack.flink import in_process_udf_jar


def _literal(value, typ: str) -> str:
    if value is None:
        return f"CAST(NULL AS {typ})"
    if typ.startswith("TIMESTAMP_LTZ"):
        return f"TO_TIMESTAMP_LTZ('{value}', 'yyyy-MM-dd''T''HH:mm:ss.SSSX', 'UTC')"
    return f"CAST('{value}' AS {typ})"


def main() -> None:
    request = json.load(sys.stdin)
    agg = next(a for a in aggregates() if a.name == request["aggregate"])
    contract = load_contract(agg.source)
    tenv = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    tenv.get_config().set("table.local-time-zone", "UTC")
    tenv.get_config().set("parallelism.default", "1")
    tenv.get_config().set("pipeline.jars", in_process_udf_jar().as_uri())
    for ddl in FUNCTION_DDLS:
        tenv.execute_sql(ddl)
    types = [flink_type(f) for f in contract.fields]
    rows = ", ".join("(" + ", ".join(_literal(r.get(f.name), t) for f, t in zip(contract.fields, types, strict=True))
                     + ")" for r in request["rows"])
    names = ", ".join(f"`{f.name}`" for f in contract.fields)
    tenv.execute_sql(f"CREATE TEMPORARY VIEW src AS SELECT * FROM (VALUES {rows}) AS t({names})")
    cols = [c.name for c in agg.columns]
    result = tenv.execute_sql(f"SELECT {', '.join(f'CAST(`{c}` AS STRING)' for c in cols)} "
                              f"FROM ({agg.select('src')})")
    json.dump(sorted([dict(zip(cols, r, strict=True)) for r in result.collect()], key=json.dumps), sys.stdout)


if __name__ == "__main__":
    main()
