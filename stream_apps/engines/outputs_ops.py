"""Compatibility import: the operations records now live in schemas/records.py."""

from schemas.records import Alert, ClassRate, OperatorRate, SlaBreach

__all__ = ["Alert", "ClassRate", "OperatorRate", "SlaBreach"]
