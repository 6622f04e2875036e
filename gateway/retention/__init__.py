"""Retention: stored records older than their policy's ``retention_days`` are purged by a sweep, audited.

``sweep.py`` is the use case (run by the gateway's scheduler and by the CLI); ``cli.py`` the operator's command.
Nothing is imported here, so that the CLI's parser stays light.
"""
