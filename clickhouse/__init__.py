"""The ClickHouse store: numbered DDL in migrations/ and the runner in migrate.py.

The same migrations run on the embedded chdb store and on a ClickHouse server;
see docs/store.md for the tables and how to run them.
"""
