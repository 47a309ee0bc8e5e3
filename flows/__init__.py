"""Prefect flows: the emergency plans, one line per plan step."""
