"""Prefect tasks: the plan's steps as thin wrappers over ``sanqing`` (retries, limits, logs)."""
