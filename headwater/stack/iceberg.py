"""Iceberg: one JDBC catalog on PostgreSQL shared by Flink, Spark, Trino and pyiceberg.

There is no process to run: this step checks the catalog answers and creates the
namespaces and the streaming layer's tables from the contracts.
"""

from __future__ import annotations

from headwater.stack.base import Health, Service

NAMESPACES = ("bronze", "silver", "gold")


def catalog(settings):  # -> pyiceberg.catalog.sql.SqlCatalog
    """The project's Iceberg catalog through pyiceberg (creates the catalog tables if absent)."""
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(settings.catalog.name, **settings.pyiceberg_catalog_properties())


def missing_tables(settings) -> list[str]:
    """Contract-derived tables the catalog does not have yet."""
    from headwater.contracts import cdc_contracts, stream_contracts
    from headwater.contracts.iceberg import table_definitions

    cat = catalog(settings)
    return [name for name in table_definitions(stream_contracts() + cdc_contracts())
            if not cat.table_exists(name)]


def ensure_tables(settings) -> list[str]:
    """Create missing namespaces and contract-derived tables; return the names created."""
    from headwater.contracts import cdc_contracts, stream_contracts
    from headwater.contracts.iceberg import TABLE_PROPERTIES, UPSERT_PROPERTIES, table_definitions

    cat = catalog(settings)
    for ns in NAMESPACES:
        cat.create_namespace_if_not_exists(ns)
    created = []
    for name, (schema, spec) in table_definitions(stream_contracts() + cdc_contracts()).items():
        if not cat.table_exists(name):
            props = {**TABLE_PROPERTIES, **(UPSERT_PROPERTIES if schema.identifier_field_ids else {})}
            cat.create_table(name, schema=schema, partition_spec=spec, properties=props)
            created.append(name)
    return created


class Iceberg(Service):
    name = "iceberg"
    title = "Iceberg catalog"

    def processes(self):
        return []

    def running(self) -> bool:
        # "running" means ready: the catalog answers and every contract's tables exist
        return self.health().ok

    def start(self) -> None:
        created = ensure_tables(self.settings)
        if created:
            print(f"  · created Iceberg tables: {', '.join(created)}")

    def endpoints(self) -> dict[str, str]:
        return {"Iceberg catalog": f"{self.settings.postgres.jdbc_url(self.settings.postgres.catalog_database)} "
                                   f"(warehouse {self.settings.warehouse})"}

    def health(self) -> Health:
        try:
            cat = catalog(self.settings)
            namespaces = sorted(".".join(n) for n in cat.list_namespaces())
            missing = [n for n in NAMESPACES if n not in namespaces]
            tables = sum(len(cat.list_tables(n)) for n in namespaces)
        except Exception as exc:
            return Health(False, f"catalog not reachable: {exc}")
        if missing:
            return Health(False, f"namespaces missing: {', '.join(missing)}")
        absent = missing_tables(self.settings)
        if absent:
            return Health(False, f"tables missing (a contract was added?): {', '.join(absent)}; `make up` creates them")
        return Health(True, f"JDBC catalog {self.settings.catalog.name!r}: namespaces {', '.join(namespaces)}, "
                            f"{tables} tables")
