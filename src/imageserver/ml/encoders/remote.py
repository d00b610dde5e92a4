"""A CLIP encoder on another machine, over HTTP, in the wire format of Immich's ML service.

    GET  /ping      -> "pong"
    POST /predict   multipart: entries={"clip": {"visual": {"modelName": NAME}}} + image=<bytes>
                               entries={"clip": {"textual": {"modelName": NAME}}} + text=<str>
                    -> {"clip": "[0.01, ...]"}   (a JSON array, sent as a string by Immich)

So this client works against an existing Immich machine-learning container, and
`imageserver encoder serve` answers Immich's server too. URLs are tried in order: one that
fails (refused, timeout, 502/503/504) is set aside for a short cool-down and the next one
is asked; when every URL failed, the whole call is retried with backoff, then reported as
EncoderUnavailable (transient: the drain keeps the images for later).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from imageserver.ml.encoders.base import (
    BatchFailed,
    EncoderError,
    EncoderUnavailable,
    ItemFailure,
    Vectors,
    l2_normalise,
)

log = logging.getLogger("imageserver.ml.remote")

SECRET_HEADER = "X-Encoder-Secret"
COOL_DOWN_SECONDS = 30.0
BACKOFF_SECONDS = 0.5
UNAVAILABLE_STATUS = {408, 429, 502, 503, 504}


class ItemRejected(EncoderError):
    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


def parse_embedding(payload: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The `clip` field of a /predict answer: a JSON array, or a string holding one."""
    value = payload.get("clip") if isinstance(payload, dict) else None
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list) or not value:
        raise ValueError("answer has no 'clip' embedding")
    if isinstance(value[0], list):  # some services nest one row
        value = value[0]
    return np.asarray(value, dtype=np.float32)


def entries(kind: str, model_name: str) -> str:
    task: dict[str, Any] = {"modelName": model_name}
    if kind == "textual":
        task["options"] = {"language": None}
    return json.dumps({"clip": {kind: task}})


class RemoteEncoder:
    def __init__(
        self,
        urls: Sequence[str],
        model_name: str,
        *,
        secret: str | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        concurrency: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one encoder URL is needed")
        self.urls = [u.rstrip("/") for u in urls]
        self.model_name = model_name
        self.retries = retries
        headers = {SECRET_HEADER: secret} if secret else {}
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers=headers,
            transport=transport,
        )
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="clip-remote")

    @property
    def model_version(self) -> str:
        """The configured model name: the service is asked for exactly these weights (our
        own service refuses any other name, so vectors of two models never mix)."""
        return self.model_name

    def _order(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            up = [u for u in self.urls if self._down_until.get(u, 0.0) <= now]
        return up or list(self.urls)

    def _set_down(self, url: str, down: bool) -> None:
        with self._lock:
            if down:
                self._down_until[url] = time.monotonic() + COOL_DOWN_SECONDS
            else:
                self._down_until.pop(url, None)

    def _predict(self, parts: dict[str, Any]) -> Any:
        """POST one multipart /predict (fields as parts without a filename, like a browser
        FormData), failing over between URLs; the parsed JSON answer."""
        last = "no encoder URL answered"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            for url in self._order():
                try:
                    response = self.client.post(f"{url}/predict", files=parts)
                except httpx.HTTPError as exc:
                    last = f"{url}: {type(exc).__name__}: {exc}"
                    self._set_down(url, True)
                    continue
                if response.status_code in UNAVAILABLE_STATUS:
                    last = f"{url}: HTTP {response.status_code}"
                    self._set_down(url, True)
                    continue
                self._set_down(url, False)
                if response.status_code in (401, 403):
                    raise EncoderUnavailable(f"{url} refused the shared secret")
                if response.status_code in (404, 405):  # wrong URL or model: not the image
                    raise EncoderUnavailable(f"{url}: {_detail(response)}")
                if 400 <= response.status_code < 500:
                    raise ItemRejected(f"{url}: {_detail(response)}", permanent=True)
                if response.status_code >= 500:
                    raise ItemRejected(f"{url}: {_detail(response)}", permanent=False)
                try:
                    return response.json()
                except ValueError as exc:
                    raise ItemRejected(f"{url}: answer is not JSON", permanent=False) from exc
        log.warning("event=encoder_unavailable urls=%s last=%r", ",".join(self.urls), last)
        raise EncoderUnavailable(f"encoder service unavailable ({last})")

    def _vector(self, payload: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
        try:
            return parse_embedding(payload)
        except ValueError as exc:
            raise ItemRejected(f"bad answer: {exc}", permanent=False) from exc

    def _one_image(self, data: bytes) -> np.ndarray[Any, np.dtype[np.float32]]:
        parts = {
            "entries": (None, entries("visual", self.model_name)),
            "image": ("blob", data, "application/octet-stream"),
        }
        return self._vector(self._predict(parts))

    def encode_images(self, images: Sequence[bytes]) -> Vectors:
        futures = [self._pool.submit(self._one_image, data) for data in images]
        vectors: dict[int, np.ndarray[Any, np.dtype[np.float32]]] = {}
        failures: dict[int, ItemFailure] = {}
        unavailable: EncoderUnavailable | None = None
        for i, future in enumerate(futures):
            try:
                vectors[i] = future.result()
            except EncoderUnavailable as exc:
                unavailable = exc
            except ItemRejected as exc:
                failures[i] = ItemFailure(str(exc), exc.permanent)
        if unavailable is not None:
            raise unavailable
        if failures:
            raise BatchFailed(failures, {i: l2_normalise(v)[0] for i, v in vectors.items()})
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return l2_normalise(np.stack([vectors[i] for i in range(len(images))]))

    def encode_text(self, texts: Sequence[str]) -> Vectors:
        rows = []
        for text in texts:
            parts = {"entries": (None, entries("textual", self.model_name)), "text": (None, text)}
            try:
                rows.append(self._vector(self._predict(parts)))
            except ItemRejected as exc:
                raise EncoderUnavailable(f"encoder could not encode the text: {exc}") from exc
        return l2_normalise(np.stack(rows))

    def ping(self) -> dict[str, bool]:
        """Which URLs answer GET /ping right now (for `imageserver encoder ping`, tests)."""
        result = {}
        for url in self.urls:
            try:
                result[url] = self.client.get(f"{url}/ping").status_code == 200
            except httpx.HTTPError:
                result[url] = False
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self.client.close()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else body
    except ValueError:
        detail = response.text[:200]
    return f"HTTP {response.status_code}: {detail}"
