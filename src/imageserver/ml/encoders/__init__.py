"""CLIP encoders behind one Protocol, and the factory that picks one from the settings.

`load_encoder(settings)` returns the remote encoder when encoder URLs are configured, the
in-process ONNX encoder when a model folder is, and None otherwise (search then answers
503 and the embedding drain idles). `get_encoder(ctx)` keeps one per process.
"""

from __future__ import annotations

import logging
import threading
from typing import cast

from imageserver.config import Settings
from imageserver.ml.encoders.base import (
    BatchFailed,
    Encoder,
    EncoderError,
    EncoderUnavailable,
    ItemFailure,
    ModelError,
)
from imageserver.work.context import AppContext

__all__ = [
    "BatchFailed",
    "Encoder",
    "EncoderError",
    "EncoderUnavailable",
    "ItemFailure",
    "ModelError",
    "get_encoder",
    "load_encoder",
    "load_local_encoder",
]

log = logging.getLogger("imageserver.ml")

_lock = threading.Lock()

NOT_CONFIGURED = (
    "semantic search is not configured: set IMAGESERVER_CLIP_MODEL_PATH to a model folder "
    "(`imageserver models pull ViT-B-32__openai` fetches one) or IMAGESERVER_CLIP_REMOTE_URLS "
    "to an encoder service"
)


def load_local_encoder(settings: Settings) -> Encoder | None:
    """The in-process ONNX encoder of CLIP_MODEL_PATH, or None when it is not set."""
    if settings.clip_model_path is None:
        return None
    from imageserver.ml.encoders.onnx_clip import OnnxClipEncoder

    return OnnxClipEncoder(
        settings.clip_model_path,
        threads=settings.clip_onnx_threads,
        preprocess_threads=settings.clip_encode_concurrency,
    )


def load_encoder(settings: Settings) -> Encoder | None:
    if settings.clip_remote_urls:
        from imageserver.ml.encoders.remote import RemoteEncoder

        secret = settings.clip_remote_secret
        return RemoteEncoder(
            settings.clip_remote_urls,
            settings.clip_remote_model_name,
            secret=secret.get_secret_value() if secret else None,
            timeout=settings.clip_remote_timeout_seconds,
            retries=settings.clip_remote_retries,
            concurrency=settings.clip_encode_concurrency,
        )
    return load_local_encoder(settings)


def get_encoder(ctx: AppContext) -> Encoder | None:
    """This process's encoder, loaded on first use; None when none is configured.

    A model folder that fails to load raises ModelError every time it is asked for (the
    operator may fix the folder without a restart), logged once per distinct reason.
    """
    with _lock:
        if ctx.encoder is not None or ctx.encoder_loaded:
            return cast(Encoder | None, ctx.encoder)  # only this module sets it
        try:
            encoder = load_encoder(ctx.settings)
        except ModelError as exc:
            if ctx.encoder_error != str(exc):
                log.error("event=encoder_load_failed reason=%r", str(exc))
                ctx.encoder_error = str(exc)
            raise
        ctx.encoder, ctx.encoder_loaded, ctx.encoder_error = encoder, True, None
        if encoder is None:
            log.info("event=encoder_not_configured detail=%r", NOT_CONFIGURED)
        else:
            log.info("event=encoder_loaded kind=%s", type(encoder).__name__)
        return encoder


def close_encoder(ctx: AppContext) -> None:
    with _lock:
        encoder, ctx.encoder, ctx.encoder_loaded = ctx.encoder, None, False
    if encoder is not None:
        encoder.close()
