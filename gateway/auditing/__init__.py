"""The gateway's side of the audit trail: the ``Auditor`` that builds every entry (safe fields, digests, bounds)."""
