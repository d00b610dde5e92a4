"""The in-process encoder on tiny real ONNX models: loading, preprocessing, tokens, vectors."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imageserver.ml.encoders import BatchFailed, ModelError
from imageserver.ml.encoders.model_files import load_model_files
from imageserver.ml.encoders.onnx_clip import OnnxClipEncoder
from imageserver.ml.encoders.tokenize import fit_ids
from tests.ml.tiny_clip import MEAN, STD, TinyClip, build_tiny_clip


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def solid_vector(tiny: TinyClip, rgb: tuple[int, int, int]) -> np.ndarray:
    """What a flat colour must encode to, whatever the resize and crop did."""
    value = (np.asarray(rgb, np.float32) / 255 - np.asarray(MEAN)) / np.asarray(STD)
    pixels = np.broadcast_to(value[None, :, None, None], (1, 3, tiny.size, tiny.size))
    vec = tiny.visual_reference(np.ascontiguousarray(pixels, dtype=np.float32))[0]
    return vec / np.linalg.norm(vec)


@pytest.fixture(scope="module")
def openai(tmp_path_factory: pytest.TempPathFactory) -> TinyClip:
    return build_tiny_clip(tmp_path_factory.mktemp("m") / "tiny-openai")


@pytest.fixture(scope="module")
def siglip(tmp_path_factory: pytest.TempPathFactory) -> TinyClip:
    return build_tiny_clip(tmp_path_factory.mktemp("m") / "tiny-siglip", style="siglip")


def three_bands() -> Image.Image:
    """96x32: red | green | blue thirds."""
    image = Image.new("RGB", (96, 32), (255, 0, 0))
    image.paste((0, 255, 0), (32, 0, 64, 32))
    image.paste((0, 0, 255), (64, 0, 96, 32))
    return image


def test_image_vectors_match_the_numpy_reference_and_are_unit(openai: TinyClip) -> None:
    encoder = OnnxClipEncoder(openai.root)
    vectors = encoder.encode_images([png(Image.new("RGB", (50, 70), (200, 30, 90)))])
    assert vectors.shape == (1, openai.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[0], solid_vector(openai, (200, 30, 90)), atol=1e-5)
    assert abs(float(np.linalg.norm(vectors[0])) - 1) < 1e-5


def test_shortest_side_mode_center_crops_and_squash_mode_does_not(
    openai: TinyClip, siglip: TinyClip
) -> None:
    cropped = OnnxClipEncoder(openai.root).encode_images([png(three_bands())])[0]
    np.testing.assert_allclose(cropped, solid_vector(openai, (0, 255, 0)), atol=1e-4)
    squashed = OnnxClipEncoder(siglip.root).encode_images([png(three_bands())])[0]
    assert float(squashed @ solid_vector(siglip, (0, 255, 0))) < 0.99


def test_exif_orientation_is_applied(openai: TinyClip) -> None:
    stored = Image.new("RGB", (64, 32), (255, 0, 0))
    stored.paste((0, 0, 255), (32, 0, 64, 32))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise: red on top
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=98, exif=exif.tobytes())
    upright = Image.new("RGB", (32, 64), (255, 0, 0))
    upright.paste((0, 0, 255), (0, 32, 32, 64))
    sideways = Image.new("RGB", (64, 32), (255, 0, 0))
    sideways.paste((0, 0, 255), (32, 0, 64, 32))
    encoder = OnnxClipEncoder(openai.root)
    got, want, wrong = encoder.encode_images([buf.getvalue(), png(upright), png(sideways)])
    assert float(got @ want) > 0.995
    assert float(got @ want) > float(got @ wrong) + 0.01


def test_batches_equal_single_images_and_fixed_batch_models_work(
    openai: TinyClip, tmp_path: Path
) -> None:
    images = [png(Image.new("RGB", (40, 40), (i * 12, 255 - i * 12, 7))) for i in range(20)]
    encoder = OnnxClipEncoder(openai.root)
    batch = encoder.encode_images(images)
    singles = np.concatenate([encoder.encode_images([data]) for data in images])
    np.testing.assert_allclose(batch, singles, atol=1e-6)
    fixed = build_tiny_clip(tmp_path / "fixed", visual_batch=1)
    np.testing.assert_allclose(OnnxClipEncoder(fixed.root).encode_images(images), batch, atol=1e-6)


def test_undecodable_image_fails_alone_with_the_others_kept(openai: TinyClip) -> None:
    encoder = OnnxClipEncoder(openai.root)
    good = png(Image.new("RGB", (40, 40), (1, 2, 3)))
    with pytest.raises(BatchFailed) as caught:
        encoder.encode_images([good, b"\xff\xd8\xff\xe0 not really a jpeg", good])
    assert set(caught.value.failures) == {1} and caught.value.failures[1].permanent
    assert "cannot decode image" in caught.value.failures[1].reason
    assert set(caught.value.vectors) == {0, 2}
    np.testing.assert_allclose(caught.value.vectors[0], encoder.encode_images([good])[0])


def ids_for(tiny: TinyClip, words: list[str]) -> list[int]:
    return [tiny.vocab[w] for w in words]


def test_openai_text_has_bos_eot_pad_zero_and_keeps_eot_on_truncation(openai: TinyClip) -> None:
    encoder = OnnxClipEncoder(openai.root)
    bos, eot = openai.vocab["<|startoftext|>"], openai.vocab["<|endoftext|>"]
    short = encoder.tokenizer.encode(["A  Red DOG"])[0].tolist()
    assert short == [bos, *ids_for(openai, ["a", "red", "dog"]), eot] + [0] * 7
    long_text = " ".join(["sunset"] * 30)
    truncated = encoder.tokenizer.encode([long_text])[0].tolist()
    assert len(truncated) == openai.context and truncated[-1] == eot and truncated[0] == bos
    ids = encoder.tokenizer.encode(["a red dog", long_text])
    want = openai.text_reference(ids)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(encoder.encode_text(["a red dog", long_text]), want, atol=1e-5)
    # pooling happens at the EOT: the long text encodes as its EOT embedding projected
    eot_only = openai.text_e[eot] @ openai.text_p
    assert (
        float(encoder.encode_text([long_text])[0] @ (eot_only / np.linalg.norm(eot_only))) > 0.999
    )


def test_siglip_text_is_canonicalised_and_padded_with_the_pad_token(siglip: TinyClip) -> None:
    encoder = OnnxClipEncoder(siglip.root)
    ids = encoder.tokenizer.encode(["A red, dog!"])[0].tolist()
    assert ids == [*ids_for(siglip, ["a", "red", "dog"]), 1] + [0] * 8
    want = siglip.text_reference(np.asarray([ids]))[0]
    got = encoder.encode_text(["a red dog"])[0]
    np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=1e-5)


def test_fit_ids_truncates_keeping_the_end_token_and_pads() -> None:
    assert fit_ids([9, 1, 2, 3, 8], 4, 0, 8) == [9, 1, 2, 8]
    assert fit_ids([9, 1, 8], 5, 0, 8) == [9, 1, 8, 0, 0]
    assert fit_ids([1, 2, 3], 2, 7, None) == [1, 2]


def test_model_version_is_name_and_digest_of_the_weights(openai: TinyClip, tmp_path: Path) -> None:
    encoder = OnnxClipEncoder(openai.root)
    name, digest = encoder.model_version.split("@")
    assert name == "tiny-openai" and len(digest) == 16
    copy = tmp_path / "renamed"
    shutil.copytree(openai.root, copy)
    assert load_model_files(copy).digest() == digest
    other = build_tiny_clip(tmp_path / "tiny-openai", seed=99)
    assert OnnxClipEncoder(other.root).model_version != encoder.model_version


def test_session_uses_two_threads(openai: TinyClip) -> None:
    encoder = OnnxClipEncoder(openai.root)
    assert encoder.visual.get_session_options().intra_op_num_threads == 2
    assert encoder.textual.get_session_options().intra_op_num_threads == 2


def test_missing_or_broken_model_files_raise_model_error(openai: TinyClip, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OnnxClipEncoder(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(openai.root, broken)
    (broken / "textual" / "model.onnx").unlink()
    with pytest.raises(ModelError, match=r"textual/model\.onnx"):
        OnnxClipEncoder(broken)
    (broken / "config.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ModelError, match="JSON object"):
        load_model_files(broken)
