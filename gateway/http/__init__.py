"""The HTTP layer: thin handlers that parse, call the service, and serialize."""
