"""Output topics -> ClickHouse: ``consumer`` (batches, commits, quarantine),
``arrow_tables`` (records -> Arrow) and ``store_writer`` (Arrow -> insert)."""
