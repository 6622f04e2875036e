"""The auditor console: server-rendered pages over the audit log, signed in with an auditor key or through the
company's identity provider.

Modules: ``sessions`` (server-side sessions behind an opaque cookie), ``pages`` (escaped HTML, no external
assets, no script), ``flow`` (the console's one guarded path: session, Casbin, audit, render), ``signin`` (the
API key's sign-in and sign-out), ``oidc_signin`` (the provider's authorization code flow with PKCE), ``plots`` and
``projection_view`` (a collection's projection). The Litestar handlers live in ``gateway.http.routes.console``.
"""
