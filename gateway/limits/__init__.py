"""Admission limits per API key: concurrency (requests in flight) and rate (token buckets)."""
