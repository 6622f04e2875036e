"""Hardening tests: fuzzing, isolation properties, crash safety, limits, no egress, secrets hygiene."""
