"""Pure engines: plain Python, no Kafka/Faust/ClickHouse import.

Every engine follows one lifecycle (see base.py): ``feed`` records in (roughly)
event-time order, ``advance`` the watermark clock, ``snapshot``/``restore`` on
checkpoint and on partition assignment.
"""
