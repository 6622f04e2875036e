"""Embedding: the in-process model (embedder, traced forward), the model specs and the model registry."""
