"""Grafana dashboards, provisioning and alert rules as code (see docs/grafana.md)."""
