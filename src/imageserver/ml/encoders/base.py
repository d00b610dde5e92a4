"""The one small interface every CLIP encoder implements, and the errors it may raise.

An encoder turns encoded image files (bytes as stored on disk: JPEG, WebP, PNG ...) and
texts into L2-normalised float32 vectors of one model. `model_version` names the weights
(name + digest where the files are known), so vectors of different models never mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    @property
    def model_version(self) -> str:
        """Identifies the weights: stored with every vector, selects the search matrix."""
        ...

    def encode_images(self, images: Sequence[bytes]) -> Vectors:
        """(len(images), dim) unit vectors; raises BatchFailed when some images fail."""
        ...

    def encode_text(self, texts: Sequence[str]) -> Vectors:
        """(len(texts), dim) unit vectors."""
        ...

    def close(self) -> None: ...


class EncoderError(Exception):
    """Base of encoder errors; `str()` is a one-line reason fit for a client."""


class ModelError(EncoderError):
    """The configured model cannot be loaded (missing files, bad config): an operator fix."""


class EncoderUnavailable(EncoderError):
    """The encoder as a whole cannot answer right now (service down, timeout): transient."""


@dataclass(frozen=True)
class ItemFailure:
    reason: str
    permanent: bool


@dataclass
class BatchFailed(EncoderError):
    """Some images of a batch failed; the vectors of the others are kept, by batch index."""

    failures: dict[int, ItemFailure]
    vectors: dict[int, NDArray[np.float32]] = field(default_factory=dict)

    def __str__(self) -> str:
        first = next(iter(self.failures.values()), None)
        return f"{len(self.failures)} image(s) failed" + (f": {first.reason}" if first else "")


def l2_normalise(vectors: NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (a zero row stays zero instead of becoming NaN)."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)
