import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from flink_jobs.ingest import Sinks, build_statements, interval
from headwater.contracts import ContractError, contract_names, load_contract, parse_contract, stream_contracts
from headwater.contracts.flink import FUNCTION_DDLS
from headwater.contracts.iceberg import bronze_schema, silver_schema, table_definitions
from producers.domain import build_domain
from producers.pos_sales import events
from producers.signals import DemandClock

pytestmark = pytest.mark.unit


def clock():
    return DemandClock(random.Random(1), 10.0, datetime(2026, 11, 16, tzinfo=UTC))


def test_every_contract_loads():
    assert {"pos_sales", "clickstream", "inventory_updates", "customer_feedback", "equipment_metrics",
            "online_orders", "online_order_items", "stores", "products", "customers", "campaigns",
            "weather", "equipment"} <= set(contract_names())
    for name in contract_names():
        c = load_contract(name)
        assert c.field(c.key).required
        if c.source != "files":
            assert c.field(c.event_time).type == "timestamp"


def test_generated_events_keep_their_contract():
    c = load_contract("pos_sales")
    gen = events(3, build_domain(3), clock())
    for _ in range(2000):
        event = json.loads(json.dumps(next(gen)))  # as it travels: through JSON
        assert c.validate(event) == [], event
        assert set(event) == {f.name for f in c.fields}


@pytest.mark.parametrize("change, reason", [
    ({"quantity": "two"}, "wrong_type"),
    ({"quantity": 500}, "out_of_range"),
    ({"payment_method": "barter"}, "unknown_enum"),
    ({"store_id": None}, "missing_field"),
    ({"unit_price": 1.234}, "wrong_type"),
    ({"sold_at": "yesterday"}, "wrong_type"),
])
def test_broken_events_fail_with_their_reason(change, reason):
    c = load_contract("pos_sales")
    event = {**next(events(1, build_domain(1), clock())), **change}
    assert [v.reason for v in c.validate(event)] == [reason]


def test_contract_errors_name_the_problem():
    base = {"name": "x", "key": "id", "event_time": "ts",
            "fields": [{"name": "id", "type": "string"}, {"name": "ts", "type": "timestamp"}]}
    assert parse_contract(base).allowed_lateness == timedelta(0)
    with pytest.raises(ContractError, match="unknown type"):
        parse_contract({**base, "fields": [{"name": "id", "type": "varchar"}]})
    with pytest.raises(ContractError, match="'nope' is not a field"):
        parse_contract({**base, "key": "nope"})
    with pytest.raises(ContractError, match="enum applies to string fields"):
        parse_contract({**base, "fields": [{"name": "id", "type": "int", "enum": [1, 2]}]})
    with pytest.raises(ContractError, match="min and max apply to numbers"):
        parse_contract({**base, "fields": [{"name": "id", "type": "date", "min": 0}]})
    with pytest.raises(ContractError, match="bad duration"):
        parse_contract({**base, "allowed_lateness": "soon"})


def test_iceberg_schemas_follow_the_contract():
    for c in stream_contracts():
        silver = silver_schema(c)
        names = [f.name for f in silver.fields]
        assert names[: len(c.fields)] == [f.name for f in c.fields]
        assert {"is_late", "kafka_partition", "kafka_offset", "ingested_at"} <= set(names)
    assert [f.name for f in bronze_schema().fields][:2] == ["kafka_key", "kafka_value"]
    tables = table_definitions(stream_contracts())
    assert "silver.quarantine" in tables and "bronze.pos_sales" in tables


def test_flink_sql_derives_from_the_contract():
    c = load_contract("pos_sales")
    ddl, inserts = build_statements([c], {"properties.bootstrap.servers": "b:1"}, Sinks("iceberg"))
    *functions, source, view, deduped = ddl
    # the payload is parsed once per record, by the project's function, never per field
    assert tuple(functions) == FUNCTION_DDLS and "JSON_VALUE" not in source + view
    assert view.count("HW_PARSE_RECORD(") == 1
    assert "'topic' = 'pos_sales'" in source
    assert "WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND" in source
    for f in c.fields:
        assert f"AS `{f.name}`" in view
    bronze, silver, quarantine, late, sales_5m = inserts
    assert bronze.startswith("INSERT INTO `iceberg`.`bronze`.`pos_sales`")
    assert "PARTITION BY `event_id`" in deduped and "`pos_sales_deduped`" in silver
    assert "`reason` IS NOT NULL" in quarantine
    assert "NOT `beyond_lateness`" in deduped and late.startswith("INSERT INTO `iceberg`.`silver`.`late_events`")
    assert sales_5m.startswith("INSERT INTO `iceberg`.`silver`.`sales_5m`") and "from `pos_sales_deduped`" in sales_5m


@pytest.mark.parametrize("delta, literal", [
    (timedelta(seconds=5), "INTERVAL '5' SECOND"),
    (timedelta(hours=48), "INTERVAL '2' DAY"),
    (timedelta(hours=49), "INTERVAL '49' HOUR"),
    (timedelta(minutes=90), "INTERVAL '90' MINUTE"),
    (timedelta(milliseconds=1500), "INTERVAL '1.500' SECOND(3)"),
])
def test_interval_literals(delta, literal):
    assert interval(delta) == literal


def test_trino_views_cast_every_contract_field():
    from headwater.contracts.trino import view_sql

    sql = view_sql(load_contract("pos_sales"), "iceberg")
    assert sql.startswith("create or replace view iceberg.silver.pos_sales_v")
    assert "cast(unit_price as decimal(10, 2)) as unit_price" in sql
    assert "cast(sold_at as timestamp(6) with time zone) as sold_at" in sql
    assert sql.rstrip().endswith("from iceberg.silver.pos_sales")


def test_every_type_has_a_name_in_every_engine():
    from headwater.contracts import SCALAR_TYPES
    from headwater.contracts.types import DECIMAL, ENGINES, TYPE_NAMES

    assert set(TYPE_NAMES) == set(SCALAR_TYPES)
    assert all(set(names) == set(ENGINES) for names in TYPE_NAMES.values())
    assert set(DECIMAL) == set(ENGINES)
