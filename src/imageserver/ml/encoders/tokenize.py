"""Text -> token ids for CLIP textual models, with the Hugging Face `tokenizers` library.

The tokenizer file adds the special tokens (BOS/EOT for OpenAI CLIP, EOS for SigLIP); this
module cleans the text the way the model was trained, then fits the ids to the model's
fixed context: truncated with the end-of-text token kept last (the OpenAI text tower pools
at the EOT position, found as the highest id), and padded with the pad id.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from imageserver.ml.encoders.base import ModelError
from imageserver.ml.encoders.model_files import TextConfig

_SPACES = re.compile(r"\s+")
_PUNCT = str.maketrans("", "", string.punctuation)
OPENAI_EOT = "<|endoftext|>"


def clean_text(text: str, cfg: TextConfig) -> str:
    text = _SPACES.sub(" ", html.unescape(html.unescape(text))).strip()
    if cfg.canonicalize:
        text = _SPACES.sub(" ", text.translate(_PUNCT).lower()).strip()
    elif cfg.style == "openai":
        text = text.lower()
    return text


def fit_ids(ids: Sequence[int], length: int, pad_id: int, eot_id: int | None) -> list[int]:
    """Truncate to `length` keeping the end token last, then pad to `length`."""
    out = list(ids)
    if len(out) > length:
        out = out[:length]
        if eot_id is not None:
            out[-1] = eot_id
    return out + [pad_id] * (length - len(out))


class TextTokenizer:
    def __init__(self, tokenizer_file: str, cfg: TextConfig) -> None:
        try:
            self._tok = Tokenizer.from_file(tokenizer_file)
        except Exception as exc:  # the library raises its own Exception subclass
            raise ModelError(f"cannot load tokenizer {tokenizer_file}: {exc}") from exc
        self._tok.no_padding()
        self._tok.no_truncation()
        self.cfg = cfg
        self.eot_id = self._special_end_id()
        self.pad_id = self._pad_id()

    def _special_end_id(self) -> int | None:
        if self.cfg.style == "openai":
            return self._tok.token_to_id(OPENAI_EOT)
        probe = self._tok.encode("")  # the post-processor appends EOS to any text
        return probe.ids[-1] if probe.ids else None

    def _pad_id(self) -> int:
        if self.cfg.pad_token is not None:
            found = self._tok.token_to_id(self.cfg.pad_token)
            if found is not None:
                return int(found)
        if self.cfg.style == "openai":
            return 0  # open_clip pads OpenAI CLIP with zeros
        return int(self.eot_id) if self.eot_id is not None else 0

    def encode(self, texts: Sequence[str]) -> NDArray[np.int64]:
        """(len(texts), context_length) token ids."""
        length = self.cfg.context_length
        encodings = self._tok.encode_batch([clean_text(t, self.cfg) for t in texts])
        rows = [fit_ids(e.ids, length, self.pad_id, self.eot_id) for e in encodings]
        return np.asarray(rows, dtype=np.int64).reshape(len(texts), length)
