"""The concrete storage backends: ``sqlite`` (embedded default) and ``postgres`` (replicas), file for file."""
