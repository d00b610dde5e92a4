"""Metrics and logs: the one place every Prometheus metric and the log format are defined."""
