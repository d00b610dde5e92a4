"""Media files: format sniffing, hashing, metadata, thumbnails and the photo routes."""
