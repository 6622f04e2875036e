"""The dynamically quantized int8 CPU variant of a model, with its own fingerprint and embedding-space version.

``torch.ao.quantization.quantize_dynamic`` turns every ``nn.Linear`` into an int8-weight layer (activations are
quantized on the fly): on CPU the matrix products get cheaper, the vectors move a little. Moving vectors is an
extraction change, so the variant is a new minor version of the embedding space: ``1.2.0`` (``1.1.0`` is kept for
a truncation variant). Its fingerprint is the SHA-256 of the quantized state dict, serialized deterministically
(names sorted; int8 values, scales and zero points as bytes), so it is checked at load like the weights file is.
Whether it is offered depends on measured retrieval quality (``bench/quantized.py``, ``docs/performance.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from gateway.embedding.specs import DEFAULT_MODEL, ModelSpec
from gateway.errors import ConfigurationError

QUANTIZED_VERSION = "1.2.0"
QUANTIZED_WEIGHTS = "int8-dynamic(model.safetensors)"  # what the fingerprint is the hash of


def quantize_int8(module: Any) -> Any:
    """A dynamically quantized copy of ``module``: int8 weights in every ``nn.Linear``; CPU only."""
    import torch

    return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
        module, {torch.nn.Linear}, dtype=torch.qint8, inplace=False
    )


def _feed(digest: Any, value: Any) -> None:
    """Hash one state-dict value; tensors by dtype, shape and bytes, so equal states hash equal anywhere."""
    import torch

    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.is_quantized:
            digest.update(f"q:{t.qscheme()}:{t.dtype}:{tuple(t.shape)}".encode())
            if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
                digest.update(f"{t.q_scale()!r}:{t.q_zero_point()}".encode())
            else:
                _feed(digest, t.q_per_channel_scales())
                _feed(digest, t.q_per_channel_zero_points())
            t = t.int_repr()
        digest.update(f"t:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.contiguous().numpy().tobytes())
    elif isinstance(value, tuple | list):
        digest.update(f"seq:{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"v:{value!r}".encode())


def state_fingerprint(module: Any) -> str:
    """SHA-256 (hex) of ``module``'s state dict, names in sorted order."""
    digest = hashlib.sha256()
    state = module.state_dict()
    for name in sorted(state):
        digest.update(f"\x00{name}\x00".encode())
        _feed(digest, state[name])
    return digest.hexdigest()


def quantized_spec(base: ModelSpec, fingerprint: str) -> ModelSpec:
    """The variant's registry entry: same architecture and pooling, minor version 2, its own fingerprint."""
    major = base.version.split(".")[0]
    if f"{major}.2.0" != QUANTIZED_VERSION:
        raise ConfigurationError(f"no quantized embedding-space version defined for {base.ref}")
    return replace(base, version=QUANTIZED_VERSION, weights_file=QUANTIZED_WEIGHTS, fingerprint=fingerprint)


class QuantizedEmbedder:
    """``SentenceTransformerEmbedder`` of the base model (its weights file verified), quantized, then verified again.

    ``expected`` is the quantized state's fingerprint from the registry; a mismatch (another torch version that
    quantizes differently, say) refuses to serve rather than silently changing the embedding space.
    """

    def __init__(self, expected: str | None, base: ModelSpec = DEFAULT_MODEL) -> None:
        from gateway.embedding.embedder import SentenceTransformerEmbedder

        inner = SentenceTransformerEmbedder(base, "cpu")
        inner.quantize_model(quantize_int8)
        actual = state_fingerprint(inner.model)
        if expected is not None and actual != expected:
            raise ConfigurationError(
                f"model {base.name}@{QUANTIZED_VERSION}: quantized state fingerprint mismatch "
                f"(expected {expected}, got {actual})"
            )
        self.spec = quantized_spec(base, actual)
        self.fingerprint = actual
        self._inner = inner

    def encode(self, texts: Sequence[str], token_counts: Sequence[int] | None = None) -> np.ndarray:
        return self._inner.encode(texts, token_counts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._inner.count_tokens(texts)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return self._inner.offsets(text)
