"""Standalone, tamper-evident audit log: RFC 9162 Merkle tree, signed checkpoints, offline verifier.

This package never imports ``gateway``: an auditor installs it alone (it needs only ``cryptography`` and
``rfc8785``) and checks a log without trusting the gateway's operators.
"""
