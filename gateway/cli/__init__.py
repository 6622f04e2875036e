"""The ``gateway`` command: serve, keys, collections, migrate, retention."""

from gateway.cli.commands import main

__all__ = ["main"]
