"""The demo warehouse: built, extracted, mutated, extracted again; only the described changes show."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.demo.warehouse import (
    DEMO_SCHEMAS,
    build_demo_warehouse,
    mutate_demo_warehouse,
)
from airflow_provider_omingest.models.entities import ConstraintType, Table, TableType
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource


def read_all(path: Path) -> dict[str, Table]:
    """Extract every schema of the warehouse: ``schema.table`` -> table."""
    with SqlAlchemySource(f"duckdb:///{path}") as source:
        (database,) = source.list_databases()
        schemas = source.list_schemas(database)
        unit = WorkUnit(unit_id="demo", database=database, schemas=tuple(schemas))
        return {f"{s.schema_name}.{t.name}": t for s in source.extract(unit, Filters()) for t in s.tables}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_demo_warehouse(tmp_path / "demo" / "warehouse.duckdb")


def test_build(warehouse: Path) -> None:
    assert warehouse.is_file()
    with SqlAlchemySource(f"duckdb:///{warehouse}") as source:
        assert source.list_databases() == ["warehouse"]
        assert source.list_schemas("warehouse") == sorted(DEMO_SCHEMAS)
        assert source.count_tables("warehouse", list(DEMO_SCHEMAS)) == {
            "sales": 11,
            "marketing": 8,
            "finance": 8,
            "staging": 7,
        }
    tables = read_all(warehouse)
    assert len(tables) == 34
    assert sum(t.table_type is TableType.REGULAR for t in tables.values()) == 30
    views = sorted(k for k, t in tables.items() if t.table_type is TableType.VIEW)
    assert views == [
        "finance.v_trial_balance",
        "marketing.v_campaign_performance",
        "sales.v_customer_orders",
        "sales.v_daily_revenue",
    ]
    assert all(tables[v].view_definition and tables[v].columns for v in views)
    assert sum(1 for t in tables.values() if t.description) == 29
    constraints = [c for t in tables.values() for c in t.constraints]
    counts = {ct: sum(c.constraint_type is ct for c in constraints) for ct in ConstraintType}
    assert counts[ConstraintType.PRIMARY_KEY] == 24
    assert counts[ConstraintType.UNIQUE] == 6
    assert counts[ConstraintType.FOREIGN_KEY] == 18
    data_types = {c.data_type for t in tables.values() for c in t.columns}
    assert {
        "INT",
        "BIGINT",
        "SMALLINT",
        "TINYINT",
        "DECIMAL",
        "DOUBLE",
        "VARCHAR",
        "BOOLEAN",
        "DATE",
        "TIMESTAMP",
        "TIMESTAMPZ",
        "UUID",
        "JSON",
        "BLOB",
        "ARRAY",
        "STRUCT",
        "MAP",
    } <= data_types
    items = tables["sales.order_items"]
    assert [c.columns for c in items.constraints] == [("order_id", "line_no"), ("order_id",), ("product_id",)]
    assert items.constraints[2].referred_table == "warehouse.sales.products"
    email = next(c for c in tables["sales.customers"].columns if c.name == "email")
    assert (email.description, email.nullable) == ("Login e-mail, unique", False)


def test_build_is_deterministic_and_replaces(warehouse: Path) -> None:
    first = {k: t.fingerprint() for k, t in read_all(warehouse).items()}
    mutate_demo_warehouse(warehouse)
    build_demo_warehouse(warehouse)  # replaces the mutated file
    assert {k: t.fingerprint() for k, t in read_all(warehouse).items()} == first


def test_mutate_changes_exactly_what_it_says(warehouse: Path) -> None:
    before = read_all(warehouse)
    lines = mutate_demo_warehouse(warehouse)
    after = read_all(warehouse)

    assert lines == [
        "Changed the type of finance.invoices.amount from DECIMAL(12,2) to DECIMAL(14,2)",
        "Added the table marketing.email_sends",
        "Dropped the table staging.tmp_currency_rates",
        "Changed the comment of sales.customers to 'Customer accounts, one row per person'",
    ]
    assert set(after) - set(before) == {"marketing.email_sends"}
    assert set(before) - set(after) == {"staging.tmp_currency_rates"}
    changed = {k for k in set(before) & set(after) if before[k].fingerprint() != after[k].fingerprint()}
    assert changed == {"finance.invoices", "sales.customers"}

    amount_before = next(c for c in before["finance.invoices"].columns if c.name == "amount")
    amount_after = next(c for c in after["finance.invoices"].columns if c.name == "amount")
    assert amount_after == amount_before.model_copy(
        update={"data_type_display": "DECIMAL(14,2)", "precision": 14, "scale": 2}
    )
    assert after["finance.invoices"].model_copy(
        update={"columns": before["finance.invoices"].columns}
    ) == before["finance.invoices"].model_copy(
        update={
            "row_count": after["finance.invoices"].row_count,
            "source_digest": after["finance.invoices"].source_digest,
        }
    )

    assert after["sales.customers"].description == "Customer accounts, one row per person"
    assert (
        after["sales.customers"].model_copy(
            update={
                "description": before["sales.customers"].description,
                "source_digest": before["sales.customers"].source_digest,
            }
        )
        == before["sales.customers"]
    )

    sends = after["marketing.email_sends"]
    assert sends.description == "E-mails sent by campaigns"
    assert [c.name for c in sends.columns] == ["send_id", "campaign_id", "customer_id", "sent_at", "opened"]
    assert sends.constraints[-1].referred_table == "warehouse.marketing.campaigns"


def test_mutate_twice_or_missing_file_fails_clearly(warehouse: Path, tmp_path: Path) -> None:
    mutate_demo_warehouse(warehouse)
    with pytest.raises(ValueError, match="already mutated"):
        mutate_demo_warehouse(warehouse)
    with pytest.raises(FileNotFoundError, match="build_demo_warehouse"):
        mutate_demo_warehouse(tmp_path / "absent.duckdb")


def test_views_carry_their_upstreams(warehouse: Path) -> None:
    tables = read_all(warehouse)
    lineage = {
        key: {u.table: {c.downstream_column: c.upstream_columns for c in u.columns} for u in t.upstreams}
        for key, t in tables.items() if t.table_type is TableType.VIEW
    }
    assert lineage == {
        "sales.v_customer_orders": {
            "warehouse.sales.customers": {"customer_id": ("customer_id",), "email": ("email",)},
            "warehouse.sales.orders": {"orders": ("order_id",), "revenue": ("total_amount",)},
        },
        "sales.v_daily_revenue": {"warehouse.sales.orders": {"day": ("order_ts",), "revenue": ("total_amount",)}},
        "marketing.v_campaign_performance": {
            "warehouse.marketing.campaigns": {"campaign_id": ("campaign_id",), "name": ("name",)},
            "warehouse.marketing.ad_groups": {},
            "warehouse.marketing.ads": {},
            "warehouse.marketing.impressions": {"impressions": ("impression_id",)},
        },
        "finance.v_trial_balance": {
            "warehouse.finance.journal_lines": {"debit": ("debit",), "credit": ("credit",)},
            "warehouse.finance.accounts": {"code": ("code",)},
        },
    }
    assert all(t.lineage_unparsed is None for t in tables.values())
    assert all(t.upstreams == () for t in tables.values() if t.table_type is not TableType.VIEW)
