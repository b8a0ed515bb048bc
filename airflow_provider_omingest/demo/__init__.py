"""The demo warehouse: a small DuckDB file built and changed for the demo, the tests and the benchmarks."""

from __future__ import annotations

from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse

__all__ = ["build_demo_warehouse", "mutate_demo_warehouse"]
