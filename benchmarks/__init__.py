"""Benchmarks of airflow_provider_omingest: ``python -m benchmarks --help`` (see benchmarks/README.md)."""
