"""Semantic search over stored CLIP embeddings: the in-memory index, the routes."""
