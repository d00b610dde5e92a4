"""API key format and digest, shared by the request check (deps) and key creation (service)
without either importing the web framework for it."""

from __future__ import annotations

import hashlib

API_KEY_PREFIX = "isk_"


def hash_api_key(secret: str) -> str:
    """sha256 suffices: keys carry 256 random bits, so no stretching is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
