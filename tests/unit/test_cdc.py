"""CDC wiring derived from the postgres contracts: connector configuration, topics, tables, Flink SQL."""

import re

import pytest

from flink_jobs.ingest import Sinks, build_statements
from headwater.contracts import cdc_contracts, load_contract
from headwater.contracts.iceberg import table_definitions
from headwater.settings import load_settings
from headwater.stack.connect import connector_config, slot_name

pytestmark = pytest.mark.unit


def _java_full_match(regex: str, text: str) -> bool:
    # RegexRouter uses Matcher.matches(): the whole topic name must match
    return re.fullmatch(regex, text) is not None


def test_connector_captures_each_contract_table_into_its_changes_topic():
    settings = load_settings({"HEADWATER_POSTGRES__PASSWORD": "secret"})
    config = connector_config(settings, "${file:/x:password}")
    assert config["plugin.name"] == "pgoutput"
    assert config["exactly.once.support"] == "required"
    assert sorted(config["table.include.list"].split(",")) == ["public.order_items", "public.orders"]
    assert config["database.password"] == "${file:/x:password}"
    assert "secret" not in str(config)
    assert config["slot.name"] == slot_name(settings) == "headwater_shop_cdc"
    routes = config["transforms"].split(",")
    assert len(routes) == len(cdc_contracts()) == 2
    targets = {}
    for topic in ("shop.public.orders", "shop.public.order_items", "shop.public.orders_archive"):
        hits = [config[f"transforms.{r}.replacement"] for r in routes
                if _java_full_match(config[f"transforms.{r}.regex"], topic)]
        targets[topic] = hits
    assert targets == {"shop.public.orders": ["online_orders_changes"],
                       "shop.public.order_items": ["online_order_items_changes"],
                       "shop.public.orders_archive": []}


def test_cdc_tables_are_a_bronze_log_and_an_upsert_mirror():
    tables = table_definitions(cdc_contracts())
    shared = {"silver.quarantine", "silver.late_events"}
    assert set(tables) - shared == {"bronze.online_orders_changes", "silver.online_orders",
                                    "bronze.online_order_items_changes", "silver.online_order_items"}
    schema, spec = tables["silver.online_orders"]
    assert [schema.find_field(i).name for i in schema.identifier_field_ids] == ["order_id"]
    assert spec.is_unpartitioned()  # an upsert table's partition source must be in its key
    assert {"source_ts", "ingested_at"} <= {f.name for f in schema.fields}


def test_cdc_statements_decode_debezium_into_an_upsert():
    c = load_contract("online_orders")
    ddl, inserts = build_statements([c], {"properties.bootstrap.servers": "b:1",
                                          "properties.group.id": "headwater-ingest"}, Sinks("iceberg"))
    *_functions, raw, changelog = ddl
    assert "'topic' = 'online_orders_changes'" in raw and "'value.format' = 'raw'" in raw
    assert "'format' = 'debezium-json'" in changelog
    assert "'properties.group.id' = 'headwater-ingest-cdc'" in changelog
    assert "'properties.isolation.level' = 'read_committed'" in changelog
    assert "`placed_at` TIMESTAMP_LTZ(6)" in changelog  # PostgreSQL's microseconds survive
    bronze, silver, quarantine = inserts
    assert bronze.startswith("INSERT INTO `iceberg`.`bronze`.`online_orders_changes`")
    assert silver.startswith("INSERT INTO `iceberg`.`silver`.`online_orders`")
    assert "'invalid_change_event'" in quarantine and "'$.op'" in quarantine
