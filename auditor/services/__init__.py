"""Services: the use cases (ingest, licenses, demo) as plain functions over the store port."""
