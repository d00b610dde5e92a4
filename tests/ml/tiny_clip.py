"""A tiny but real CLIP model folder built on the spot (onnx.helper + tokenizers).

Visual tower: average-pool the normalised image to 4x4 per channel, flatten, project.
Text tower: embedding lookup, then pooling at the end-of-text token (OpenAI style: the
position of the highest id, as the real text tower does) or mean pooling (SigLIP style).
The numpy twins below compute the same vectors, so tests can check the real loading,
preprocessing, tokenisation and inference against an independent reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

SENTENCE = "a photo of the red green blue dog cat beach sunset car tree house on at in with black"
WORDS = [*SENTENCE.split(), "white", "mountain", "snow", "city", "night"]
MEAN = [0.5, 0.4, 0.3]
STD = [0.25, 0.25, 0.25]


@dataclass
class TinyClip:
    root: Path
    style: str
    size: int
    context: int
    dim: int
    visual_w: NDArray[np.float32]  # (3*4*4, dim)
    text_e: NDArray[np.float32]  # (vocab, dim)
    text_p: NDArray[np.float32]  # (dim, dim)
    vocab: dict[str, int]

    def visual_reference(self, pixels: NDArray[np.float32]) -> NDArray[np.float32]:
        """pixels (n, 3, S, S) normalised -> unnormalised vectors, in numpy."""
        n, k = pixels.shape[0], self.size // 4
        pooled = pixels.reshape(n, 3, 4, k, 4, k).mean(axis=(3, 5)).reshape(n, -1)
        return (pooled @ self.visual_w).astype(np.float32)

    def text_reference(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        emb = self.text_e[ids]  # (n, L, dim)
        if self.style == "openai":
            pooled = emb[np.arange(len(ids)), ids.argmax(axis=1)]
        else:
            pooled = emb.mean(axis=1)
        return (pooled @ self.text_p).astype(np.float32)


def _visual_graph(size: int, dim: int, w: NDArray[np.float32], batch: int | str) -> onnx.ModelProto:
    k = size // 4
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[k, k], strides=[k, k]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, dim])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _text_graph(
    style: str, context: int, dim: int, e: NDArray[np.float32], p: NDArray[np.float32]
) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Cast", ["text"], ["ids"], to=TensorProto.INT64),
        helper.make_node("Gather", ["E", "ids"], ["tokens"]),  # (b, L, dim)
    ]
    if style == "openai":
        nodes += [
            helper.make_node("ArgMax", ["ids"], ["eot"], axis=1, keepdims=0),  # (b,)
            helper.make_node("OneHot", ["eot", "depth", "onoff"], ["pick"], axis=-1),
            helper.make_node("Unsqueeze", ["pick", "axis1"], ["pick3"]),  # (b, 1, L)
            helper.make_node("MatMul", ["pick3", "tokens"], ["chosen"]),  # (b, 1, dim)
            helper.make_node("Squeeze", ["chosen", "axis1"], ["pooled"]),
        ]
    else:
        nodes.append(helper.make_node("ReduceMean", ["tokens"], ["pooled"], axes=[1], keepdims=0))
    nodes.append(helper.make_node("MatMul", ["pooled", "P"], ["embedding"]))
    inits = [
        numpy_helper.from_array(e, "E"),
        numpy_helper.from_array(p, "P"),
        numpy_helper.from_array(np.array([context], dtype=np.int64), "depth"),
        numpy_helper.from_array(np.array([0.0, 1.0], dtype=np.float32), "onoff"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    graph = helper.make_graph(
        nodes,
        "textual",
        [helper.make_tensor_value_info("text", TensorProto.INT32, ["batch", context])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _tokenizer(style: str) -> tuple[Tokenizer, dict[str, int], str]:
    if style == "openai":
        vocab = {"!": 0, "<unk>": 1}
        for word in WORDS:
            vocab[word] = len(vocab)
        vocab["<|startoftext|>"] = len(vocab)
        vocab["<|endoftext|>"] = len(vocab)  # the highest id, as in the real vocabulary
        tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
        tok.post_processor = processors.TemplateProcessing(
            single="<|startoftext|> $A <|endoftext|>",
            special_tokens=[
                ("<|startoftext|>", vocab["<|startoftext|>"]),
                ("<|endoftext|>", vocab["<|endoftext|>"]),
            ],
        )
        pad = "!"
    else:
        vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
        for word in WORDS:
            vocab[word] = len(vocab)
        tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", special_tokens=[("</s>", 1)]
        )
        pad = "<pad>"
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok, vocab, pad


def build_tiny_clip(
    root: Path,
    *,
    style: str = "openai",
    size: int = 32,
    context: int = 12,
    dim: int = 16,
    seed: int = 7,
    visual_batch: int | str = "batch",
) -> TinyClip:
    rng = np.random.default_rng(seed)
    tok, vocab, pad = _tokenizer(style)
    w = rng.standard_normal((3 * 16, dim)).astype(np.float32)
    e = rng.standard_normal((len(vocab), dim)).astype(np.float32)
    p = rng.standard_normal((dim, dim)).astype(np.float32)
    (root / "visual").mkdir(parents=True, exist_ok=True)
    (root / "textual").mkdir(parents=True, exist_ok=True)
    onnx.save(_visual_graph(size, dim, w, visual_batch), str(root / "visual" / "model.onnx"))
    onnx.save(_text_graph(style, context, dim, e, p), str(root / "textual" / "model.onnx"))
    tok.save(str(root / "textual" / "tokenizer.json"))
    text_cfg: dict[str, object] = {"context_length": context, "vocab_size": len(vocab)}
    if style == "siglip":
        text_cfg["hf_tokenizer_name"] = "timm/ViT-B-16-SigLIP"
        text_cfg["tokenizer_kwargs"] = {"clean": "canonicalize"}
    config = {"embed_dim": dim, "vision_cfg": {"image_size": size}, "text_cfg": text_cfg}
    (root / "config.json").write_text(json.dumps(config))
    preprocess = {
        "size": [size, size],
        "mode": "RGB",
        "mean": MEAN,
        "std": STD,
        "interpolation": "bicubic",
        "resize_mode": "shortest" if style == "openai" else "squash",
        "fill_color": 0,
    }
    (root / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess))
    (root / "textual" / "tokenizer_config.json").write_text(json.dumps({"pad_token": pad}))
    return TinyClip(root, style, size, context, dim, w, e, p, vocab)
