"""Observability: Prometheus metrics (``metrics``), scrubbed JSON logs (``logs``), the timing and drift-feeding
store wrapper (``store``) and their wiring into the services (``wiring``). See ``docs/observability.md``."""
