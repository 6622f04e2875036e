"""Route handlers, one module per API area."""
