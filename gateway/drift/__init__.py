"""Drift of collections' embeddings: measures (pure), the monitor, and where its state is kept."""
