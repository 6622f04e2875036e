"""Keeping the audit log honest beyond this host: the published checkpoint and the witnesses.

``published`` refuses to open a log that no longer extends the checkpoint this gateway last published (kept in
the keys folder, outside the database); ``publisher`` sends every signed checkpoint to the witnesses named by
the ``audit_witnesses`` setting, publishes their cosignatures with the checkpoint, and on a refusal raises the
alarm and holds signing until an operator acts (docs/audit.md).
"""
