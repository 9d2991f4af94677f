"""Output topics -> ClickHouse: ``consumer`` (batches, commits, quarantine) and
``store_writer`` (records -> Arrow -> insert)."""
