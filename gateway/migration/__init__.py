"""Collection migrations: re-embedding a collection into a new embedding-space version, resumable."""
