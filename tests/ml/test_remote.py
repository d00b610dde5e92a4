"""The remote encoder client and `encoder serve`, in Immich's ML wire format."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from imageserver.ml.encoders import BatchFailed, EncoderUnavailable
from imageserver.ml.encoders.onnx_clip import OnnxClipEncoder
from imageserver.ml.encoders.remote import SECRET_HEADER, RemoteEncoder
from imageserver.ml.server import create_encoder_app
from tests.ml.tiny_clip import TinyClip


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (60, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local(tiny_model: TinyClip) -> OnnxClipEncoder:
    return OnnxClipEncoder(tiny_model.root)


@pytest.fixture(scope="module")
def served(local: OnnxClipEncoder) -> Iterator[str]:
    """Our encoder service on a real loopback port, with a shared secret."""
    port = free_port()
    app = create_encoder_app(local, name="tiny-clip", secret="s3cret")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_client_and_server_agree_with_the_local_encoder_and_fail_over(
    served: str, local: OnnxClipEncoder
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused
    remote = RemoteEncoder([dead, served], "tiny-clip", secret="s3cret", retries=0)
    images = [jpeg((200, 10, 10)), jpeg((10, 10, 200), (30, 90))]
    np.testing.assert_allclose(remote.encode_images(images), local.encode_images(images), atol=1e-6)
    np.testing.assert_allclose(
        remote.encode_text(["a red car", "snow"]),
        local.encode_text(["a red car", "snow"]),
        atol=1e-6,
    )
    assert remote.model_version == "tiny-clip"
    assert remote.ping() == {dead: False, served: True}
    remote.close()


def test_wrong_secret_or_wrong_model_is_unavailable_not_an_image_failure(served: str) -> None:
    no_secret = RemoteEncoder([served], "tiny-clip", retries=0)
    with pytest.raises(EncoderUnavailable, match="secret"):
        no_secret.encode_images([jpeg((1, 2, 3))])
    other_model = RemoteEncoder([served], "ViT-L-14__openai", secret="s3cret", retries=0)
    with pytest.raises(EncoderUnavailable, match="not served here"):
        other_model.encode_images([jpeg((1, 2, 3))])


def test_undecodable_image_is_a_permanent_item_failure(served: str) -> None:
    remote = RemoteEncoder([served], "tiny-clip", secret="s3cret", retries=0)
    with pytest.raises(BatchFailed) as caught:
        remote.encode_images([jpeg((5, 5, 5)), b"not an image"])
    assert caught.value.failures[1].permanent and set(caught.value.vectors) == {0}


def test_server_speaks_immich_format(local: OnnxClipEncoder) -> None:
    client = TestClient(create_encoder_app(local, name="tiny-clip"))
    assert client.get("/ping").text == "pong"
    entries = json.dumps({"clip": {"textual": {"modelName": "tiny-clip"}}})
    answer = client.post("/predict", data={"entries": entries, "text": "a dog"}).json()
    assert isinstance(answer["clip"], str)  # Immich's server stores this string as is
    np.testing.assert_allclose(
        json.loads(answer["clip"]), local.encode_text(["a dog"])[0], atol=1e-6
    )
    entries = json.dumps({"clip": {"visual": {"modelName": local.model_version}}})
    answer = client.post(
        "/predict", data={"entries": entries}, files={"image": jpeg((9, 9, 9), (64, 48))}
    ).json()
    assert (answer["imageWidth"], answer["imageHeight"]) == (64, 48)
    faces = json.dumps({"facial-recognition": {"detection": {"modelName": "buffalo_l"}}})
    assert client.post("/predict", data={"entries": faces, "text": "x"}).status_code == 422


def fake_immich(
    calls: list[tuple[str, dict[str, str]]], vector: list[float]
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "down.example":
            raise httpx.ConnectError("refused", request=request)
        if host == "slow.example":
            raise httpx.ReadTimeout("timed out", request=request)
        body = request.content.decode("latin-1")
        fields = {
            name: body.split(f'name="{name}"', 1)[1].split("\r\n\r\n", 1)[1].split("\r\n--", 1)[0]
            for name in ("entries", "text")
            if f'name="{name}"' in body
        }
        fields["has_image"] = str('name="image"' in body)
        calls.append((host, fields))
        if host == "broken.example":
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        return httpx.Response(200, json={"clip": json.dumps(vector)})

    return httpx.MockTransport(handler)


def test_client_sends_immich_requests_and_sets_failed_urls_aside() -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    transport = fake_immich(calls, [3.0, 4.0])
    remote = RemoteEncoder(
        ["http://down.example:3003", "http://immich-ml.example:3003"],
        "ViT-B-32__openai",
        transport=transport,
        retries=0,
    )
    vectors = remote.encode_images([b"jpeg bytes"])
    np.testing.assert_allclose(vectors, [[0.6, 0.8]])  # normalised
    host, fields = calls[-1]
    assert host == "immich-ml.example" and fields["has_image"] == "True"
    assert json.loads(fields["entries"]) == {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}
    remote.encode_text(["a cat"])
    host, fields = calls[-1]
    assert fields["text"] == "a cat"
    assert json.loads(fields["entries"])["clip"]["textual"]["modelName"] == "ViT-B-32__openai"
    assert [h for h, _ in calls] == ["immich-ml.example", "immich-ml.example"]


def test_timeouts_are_retried_with_backoff_then_unavailable() -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    remote = RemoteEncoder(
        ["http://slow.example"], "m", transport=fake_immich(calls, [1.0]), retries=2
    )
    started = time.monotonic()
    with pytest.raises(EncoderUnavailable, match="ReadTimeout"):
        remote.encode_text(["x"])
    assert time.monotonic() - started >= 0.5 + 1.0  # two backoff pauses


def test_server_error_on_one_image_is_transient_for_that_image() -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    remote = RemoteEncoder(
        ["http://broken.example"], "m", transport=fake_immich(calls, [1.0]), retries=0
    )
    with pytest.raises(BatchFailed) as caught:
        remote.encode_images([b"x"])
    assert not caught.value.failures[0].permanent


def test_cli_serve_refuses_without_model_and_pull_names_immich_repos(tmp_path: Path) -> None:
    from imageserver.ml.cli import repo_id_for
    from imageserver.server.cli import app

    env = {"IMAGESERVER_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["encoder", "serve", "--port", "1"], env=env)
    assert result.exit_code == 2 and "no model" in result.output
    assert repo_id_for("ViT-B-32__openai") == "immich-app/ViT-B-32__openai"
    assert repo_id_for("someone/clip") == "someone/clip"
    assert SECRET_HEADER == "X-Encoder-Secret"


def test_cli_serve_binds_loopback_and_refuses_the_network_without_a_secret(
    tmp_path: Path,
) -> None:
    from imageserver.ml.cli import is_loopback
    from imageserver.server.cli import app

    env = {"IMAGESERVER_DATA_DIR": str(tmp_path), "IMAGESERVER_CLIP_REMOTE_SECRET": ""}
    for host in ("0.0.0.0", "::", "192.0.2.7", "encoder.lan"):
        result = CliRunner().invoke(app, ["encoder", "serve", "--host", host], env=env)
        assert result.exit_code == 2 and "without IMAGESERVER_CLIP_REMOTE_SECRET" in (
            result.output
        ), (host, result.output)
    # with a secret the address is accepted (and it goes on to look for the model)
    secret = {**env, "IMAGESERVER_CLIP_REMOTE_SECRET": "s3cret"}
    result = CliRunner().invoke(app, ["encoder", "serve", "--host", "0.0.0.0"], env=secret)
    assert result.exit_code == 2 and "no model" in result.output
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"))
    import inspect

    from imageserver.ml import cli as ml_cli

    default = inspect.signature(ml_cli.serve).parameters["host"].default
    assert default == "127.0.0.1"


def _raw(served: str, head: bytes) -> tuple[int, bytes, float]:
    """Send a request head only (the declared body never follows); status, body, seconds."""
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed before a response: {data!r}"
            data += chunk
        elapsed = time.monotonic() - start
        head_part, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head_part.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length and (chunk := sock.recv(65536)):
            body += chunk
    return int(head_part.split()[1]), body, elapsed


MB = 1024 * 1024


@pytest.mark.parametrize("secret", [None, b"wrong"])
def test_predict_without_the_secret_is_refused_before_its_body(
    served: str, secret: bytes | None
) -> None:
    header = b"" if secret is None else b"%s: %s\r\n" % (SECRET_HEADER.encode(), secret)
    status, body, elapsed = _raw(
        served,
        b"POST /predict HTTP/1.1\r\nHost: t\r\n%sContent-Type: multipart/form-data; "
        b"boundary=xx\r\nContent-Length: %d\r\n\r\n" % (header, 400 * MB),
    )
    assert status == 401 and SECRET_HEADER in json.loads(body)["error"]["message"]
    assert elapsed < 1.0, elapsed


def test_predict_over_the_image_limit_is_413_before_its_body(served: str) -> None:
    status, body, elapsed = _raw(
        served,
        b"POST /predict HTTP/1.1\r\nHost: t\r\n%s: s3cret\r\nContent-Type: multipart/form-data; "
        b"boundary=xx\r\nContent-Length: %d\r\n\r\n" % (SECRET_HEADER.encode(), 400 * MB),
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "too_large"
    assert elapsed < 1.0, elapsed
    # ping stays open (health checks carry no secret); other bodies are small
    assert httpx.get(f"{served}/ping").text == "pong"
    status, _, _ = _raw(
        served,
        b"POST /info HTTP/1.1\r\nHost: t\r\n%s: s3cret\r\nContent-Length: %d\r\n\r\n"
        % (SECRET_HEADER.encode(), 10 * MB),
    )
    assert status == 413


def test_encoder_serve_uses_the_header_deadline_protocol(tmp_path: Path) -> None:
    from imageserver.config import Settings
    from imageserver.ml.cli import http_options

    settings = Settings(data_dir=tmp_path, http_header_timeout_seconds=2.5)
    options = http_options(settings, "127.0.0.1", 3003)
    assert options["http"].header_timeout == 2.5
    assert options["h11_max_incomplete_event_size"] == settings.http_header_max_bytes
