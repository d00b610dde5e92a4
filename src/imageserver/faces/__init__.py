"""Faces: detection (dlib), people, their routes and stats (SPEC section 7)."""
