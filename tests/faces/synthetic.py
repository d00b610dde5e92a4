"""Synthetic 128-d embeddings: identities ~1.0 apart, their faces ~0.2 from each other."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def identities(count: int, seed: int = 1) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    bases = rng.normal(size=(count, 128))
    bases /= np.linalg.norm(bases, axis=1, keepdims=True)
    return (bases * 0.7).astype(np.float32)


def faces_of(base: npt.NDArray[np.float32], count: int, seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(count, 128))
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (base + noise * 0.12).astype(np.float32)


def at_distance(
    vector: npt.NDArray[np.float32], distance: float, seed: int
) -> npt.NDArray[np.float32]:
    """A vector exactly `distance` away from `vector`, in a random direction."""
    rng = np.random.default_rng(seed)
    step = rng.normal(size=128)
    step /= np.linalg.norm(step)
    return (vector + step * distance).astype(np.float32)
