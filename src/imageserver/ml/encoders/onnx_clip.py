"""The in-process CLIP encoder: ONNX Runtime sessions for the two towers.

Images are decoded and preprocessed in a small thread pool (Pillow releases the GIL), then
run through the visual model in batches; onnxruntime also releases the GIL, so a drain in
a worker thread and search requests share the process without stalling the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imageserver.ml.encoders.base import (
    BatchFailed,
    ItemFailure,
    ModelError,
    Vectors,
    l2_normalise,
)
from imageserver.ml.encoders.model_files import ModelFiles, load_model_files
from imageserver.ml.encoders.preprocess import UndecodableImage, preprocess
from imageserver.ml.encoders.tokenize import TextTokenizer

log = logging.getLogger("imageserver.ml.onnx")

MAX_BATCH = 16


def session_options(threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def open_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load {path}: {exc}") from exc


def _fixed_batch(session: Any) -> int | None:
    """1 when the model was exported with a fixed batch of one, else None (dynamic)."""
    dim = session.get_inputs()[0].shape[0]
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxClipEncoder:
    """CLIP from a local model folder; see model_files.py for the layout it reads."""

    def __init__(self, root: Path, *, threads: int = 2, preprocess_threads: int = 2) -> None:
        self.files: ModelFiles = load_model_files(root)
        self.visual = open_session(self.files.visual_model, threads)
        self.textual = open_session(self.files.textual_model, threads)
        self.tokenizer = TextTokenizer(str(self.files.tokenizer), self.files.text)
        self._text_inputs = [(i.name, i.type) for i in self.textual.get_inputs()]
        self._visual_input = self.visual.get_inputs()[0].name
        self._visual_batch = _fixed_batch(self.visual)
        self._text_batch = _fixed_batch(self.textual)
        self._pool = ThreadPoolExecutor(max(1, preprocess_threads), thread_name_prefix="clip-pre")
        self._version: str | None = None
        self._version_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def model_version(self) -> str:
        with self._version_lock:
            if self._version is None:
                self._version = f"{self.files.name}@{self.files.digest()}"
            return self._version

    # --- images --------------------------------------------------------------------------

    def preprocess_many(
        self, images: Sequence[bytes]
    ) -> tuple[dict[int, NDArray[np.float32]], dict[int, ItemFailure]]:
        def one(data: bytes) -> NDArray[np.float32] | ItemFailure:
            try:
                return preprocess(data, self.files.visual)
            except UndecodableImage as exc:
                return ItemFailure(f"cannot decode image: {exc}", permanent=True)

        results = list(self._pool.map(one, images)) if len(images) > 1 else [one(images[0])]
        tensors = {i: r for i, r in enumerate(results) if not isinstance(r, ItemFailure)}
        failures = {i: r for i, r in enumerate(results) if isinstance(r, ItemFailure)}
        return tensors, failures

    def run_visual(self, pixels: NDArray[np.float32]) -> Vectors:
        """Visual model on a (n, 3, S, S) batch -> unit vectors."""
        step = self._visual_batch or MAX_BATCH
        outs = [
            self.visual.run(None, {self._visual_input: pixels[i : i + step]})[0]
            for i in range(0, len(pixels), step)
        ]
        return l2_normalise(np.concatenate(outs, axis=0).reshape(len(pixels), -1))

    def encode_images(self, images: Sequence[bytes]) -> Vectors:
        if not images:
            return np.zeros((0, self.files.embed_dim or 0), dtype=np.float32)
        tensors, failures = self.preprocess_many(images)
        order = sorted(tensors)
        vectors = self.run_visual(np.stack([tensors[i] for i in order])) if order else None
        if failures:
            kept = {i: vectors[k] for k, i in enumerate(order)} if vectors is not None else {}
            raise BatchFailed(failures, kept)
        assert vectors is not None
        return vectors

    # --- text ----------------------------------------------------------------------------

    def _text_feed(self, ids: NDArray[np.int64]) -> dict[str, NDArray[Any]]:
        feed: dict[str, NDArray[Any]] = {}
        for name, type_name in self._text_inputs:
            dtype = np.int32 if "int32" in type_name else np.int64
            if "mask" in name:
                feed[name] = (ids != self.tokenizer.pad_id).astype(dtype)
            else:
                feed[name] = ids.astype(dtype)
        return feed

    def encode_text(self, texts: Sequence[str]) -> Vectors:
        ids = self.tokenizer.encode(texts)
        step = self._text_batch or MAX_BATCH
        outs = [
            self.textual.run(None, self._text_feed(ids[i : i + step]))[0]
            for i in range(0, len(ids), step)
        ]
        return l2_normalise(np.concatenate(outs, axis=0).reshape(len(texts), -1))

    def close(self) -> None:
        self._pool.shutdown(wait=False)
