"""imageserver: a self-hosted photo and video library server."""

__version__ = "0.1.0"
