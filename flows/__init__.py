"""Prefect flows: the DAGs. One flow per module."""
