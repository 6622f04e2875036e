"""The gateway policy file: its types, loader (with reload), schema validation and the audit of its changes."""
