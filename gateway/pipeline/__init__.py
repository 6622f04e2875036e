"""The request pipeline: the stages (normalize, screen, embed, protect), batching, chunking, and the use cases."""
