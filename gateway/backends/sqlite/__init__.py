"""The embedded default: SQLite (WAL) files under the data dir, one connection per thread."""
