"""``python -m airflow_provider_omingest`` runs the ``omingest`` command."""

from airflow_provider_omingest.cli import console_main

console_main()
