"""`imageserver encoder serve`: any local encoder over HTTP, in Immich's ML wire format.

So encoding can run on a machine with a GPU (or just more cores) while the library server
stays small, and Immich's own server can use this service as its machine-learning URL.
Only CLIP is served; the model name asked for must be the loaded model's name or its full
version, so a client configured for other weights gets a clear 422 instead of vectors of
the wrong model. When a shared secret is set, requests without it get 401 (Immich's server
sends no secret: put the service behind a proxy that adds the header, or leave it unset on
a trusted network).

Requests are bounded before they are read (work/bodylimits.py): the secret is checked from
the headers before a body is received, /predict takes at most one image's bytes plus the
form's overhead, anything else a small body, and `encoder serve` runs the same
header-deadline protocol as the web server.
"""

from __future__ import annotations

import hmac
import io
import json
from typing import Annotated, Any

from fastapi import FastAPI, Form, Header, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import Scope

from imageserver import __version__
from imageserver.ml.encoders import BatchFailed, Encoder, EncoderUnavailable
from imageserver.ml.encoders.remote import SECRET_HEADER
from imageserver.work.bodylimits import BodyLimits

MAX_IMAGE_BYTES = 100 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, the entries field, a text query
SMALL_BODY = 64 * 1024
OPEN_PATHS = frozenset({"/ping"})


def body_limit(method: str, path: str) -> int:
    return MAX_IMAGE_BYTES + FORM_OVERHEAD if path == "/predict" else SMALL_BODY


def secret_check(secret: str | None) -> Any:
    """The pre-body check: a wrong or missing secret is refused from the headers alone."""
    wanted = secret.encode() if secret is not None else None
    header = SECRET_HEADER.lower().encode("latin-1")

    async def refused(scope: Scope) -> str | None:
        if wanted is None or scope["path"] in OPEN_PATHS:
            return None
        given = dict(scope["headers"]).get(header)
        if given is not None and hmac.compare_digest(given, wanted):
            return None
        return f"missing or wrong {SECRET_HEADER}"

    return refused


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _task(entries: str) -> tuple[str, str | None] | JSONResponse:
    """("visual" | "textual", model name) from the `entries` field."""
    try:
        parsed = json.loads(entries)
    except ValueError:
        return _error(400, "entries: invalid JSON")
    clip = parsed.get("clip") if isinstance(parsed, dict) else None
    if not isinstance(clip, dict) or len(parsed) != 1:
        return _error(422, "only the 'clip' task is served here")
    for kind in ("visual", "textual"):
        if isinstance(clip.get(kind), dict):
            name = clip[kind].get("modelName")
            return kind, name if isinstance(name, str) else None
    return _error(422, "entries: expected clip.visual or clip.textual")


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # the encoder reports the decode error itself
        return (0, 0)


def create_encoder_app(encoder: Encoder, *, name: str, secret: str | None = None) -> FastAPI:
    app = FastAPI(title="imageserver encoder", version=__version__)
    app.add_middleware(
        BodyLimits, limit_of=body_limit, precheck=secret_check(secret), challenge=SECRET_HEADER
    )
    accepted = {name, encoder.model_version}

    def authorised(given: str | None) -> bool:
        return secret is None or (given is not None and hmac.compare_digest(given, secret))

    @app.get("/ping", response_class=PlainTextResponse)
    def ping() -> str:
        return "pong"

    @app.get("/info")
    def info(x_encoder_secret: Annotated[str | None, Header()] = None) -> Any:
        if not authorised(x_encoder_secret):
            return _error(401, f"missing or wrong {SECRET_HEADER}")
        return {"model_name": name, "model_version": encoder.model_version}

    @app.post("/predict")
    def predict(
        entries: Annotated[str, Form()],
        image: UploadFile | None = None,
        text: Annotated[str | None, Form()] = None,
        x_encoder_secret: Annotated[str | None, Header()] = None,
    ) -> Any:
        if not authorised(x_encoder_secret):
            return _error(401, f"missing or wrong {SECRET_HEADER}")
        task = _task(entries)
        if isinstance(task, JSONResponse):
            return task
        kind, model_name = task
        if model_name is not None and model_name not in accepted:
            # 404 (not 422): a client asking for other weights is misconfigured as a whole
            return _error(404, f"model {model_name!r} is not served here; this serves {name!r}")
        try:
            if kind == "visual":
                if image is None:
                    return _error(400, "image: required for clip.visual")
                data = image.file.read(MAX_IMAGE_BYTES + 1)
                if len(data) > MAX_IMAGE_BYTES:
                    return _error(413, "image: too large")
                vector = encoder.encode_images([data])[0]
                width, height = _image_size(data)
                body: dict[str, Any] = {"imageHeight": height, "imageWidth": width}
            else:
                if text is None:
                    return _error(400, "text: required for clip.textual")
                vector = encoder.encode_text([text])[0]
                body = {}
        except BatchFailed as exc:
            return _error(422, next(iter(exc.failures.values())).reason)
        except EncoderUnavailable as exc:
            return _error(503, str(exc))
        # Immich sends the embedding as a JSON array inside a string; keep that shape.
        body["clip"] = json.dumps([round(float(v), 8) for v in vector])
        return body

    return app
