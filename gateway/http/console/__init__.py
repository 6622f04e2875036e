"""The auditor console: server-rendered pages over the audit log, signed in with an auditor key.

Modules: ``sessions`` (server-side sessions behind an opaque cookie), ``query`` (filtering and paging the
log), ``evidence`` (checkpoint, proofs and the report, verified server-side), ``pages`` (escaped HTML, no
external assets, no script) and ``flow`` (the console's one guarded path: session, Casbin, audit, render).
The Litestar handlers live in ``gateway.http.routes.console``.
"""
