"""The plan's rules: plain functions over registry objects, no database, no Prefect."""
