"""Tests of the catalogs; :mod:`.catalog_contract` holds the tests every catalog must pass."""
