"""Machine learning: CLIP encoders (in-process ONNX or remote), the embedding drain, stats."""
