"""A model of the registry served by a remote engine, behind the same ``Embedder`` interface as the in-process one.

Only screened text reaches it: the pipeline calls ``encode`` after detection and the policy's decision, with the
redacted or pseudonymized texts. The engine's vectors are validated by ``EngineClient`` (count, dimension, finite
numbers) and unit-normalized here, as the in-process model's are, before protection.

The engine's tokenizer is not ours to call, so token counts (``usage`` and the truncation header) and chunk
boundaries are estimated from whitespace: about four word pieces for three words, which is what WordPiece and BPE
tokenizers give English prose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gateway.embedding.engines import EngineClient
from gateway.embedding.specs import ModelSpec
from gateway.pipeline.chunking import whitespace_offsets


def estimate_tokens(text: str) -> int:
    """Word pieces of ``text``, estimated (special tokens included): 4 per 3 words, plus 2."""
    return (len(text.split()) * 4 + 2) // 3 + 2


class RemoteEmbedder:
    """``Embedder`` for a remote model: one ``EngineClient`` call per micro-batch (split to ``max_batch``)."""

    def __init__(self, spec: ModelSpec, client: EngineClient, deadline_s: float | None = None) -> None:
        if spec.engine is None:
            raise ValueError(f"model {spec.name} has no engine")
        self.spec = spec
        self.client = client
        self._deadline_s = deadline_s

    def encode(self, texts: Sequence[str], token_counts: Sequence[int] | None = None) -> np.ndarray:
        vectors = self.client.embed(list(texts), deadline_s=self._deadline_s)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.asarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """The engine's vectors as it returned them (validated, not normalized): what a fingerprint probes."""
        return self.client.embed(list(texts), deadline_s=min(self.client.spec.timeout_s, 10.0))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [estimate_tokens(t) for t in texts]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return whitespace_offsets(text)

    def close(self) -> None:
        self.client.close()
