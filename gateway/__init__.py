"""Governed embedding gateway: authenticate, authorize, detect PII, embed, protect, store, audit."""

__version__ = "0.1.0"
