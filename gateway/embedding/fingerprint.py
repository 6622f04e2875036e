"""A remote model's behavioural fingerprint: what it answers to fixed probe texts, quantized, compared with tolerance.

Weights behind an engine cannot be hashed, so the model is probed: ``PROBES`` are embedded, the first ``DIMS``
components of each unit vector are quantized to signed bytes (steps of 1/127), and the fingerprint is
``probe:v1:<base64 of those bytes>``. Two fingerprints match when every component is within ``TOLERANCE`` steps
and the probes' vectors point the same way (cosine of at least ``MIN_COSINE`` on the quantized components): float
noise between GPU kernels and batch sizes passes, another model, other pooling or normalization does not.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence

import numpy as np

PREFIX = "probe:v1:"
PROBES = (
    "The quarterly settlement report was filed on time.",
    "A patient was discharged after a short stay.",
    "Interest rates rose by a quarter of a point.",
    "The committee approved the revised retention schedule.",
    "Shipping containers were delayed at the port.",
    "Bonjour, je voudrais ouvrir un compte.",
    "1234 5678",
    "ok",
)
DIMS = 32
TOLERANCE = 3  # steps of 1/127 per component
MIN_COSINE = 0.995


def probe(embed: Callable[[Sequence[str]], np.ndarray]) -> str:
    """The fingerprint of the model behind ``embed`` (one call with every probe text)."""
    vectors = np.asarray(embed(list(PROBES)), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    quantized = np.clip(np.rint(unit[:, :DIMS] * 127), -127, 127).astype(np.int8)
    return PREFIX + base64.b64encode(quantized.tobytes()).decode("ascii")


def _decode(fingerprint: str) -> np.ndarray | None:
    if not fingerprint.startswith(PREFIX):
        return None
    try:
        raw = base64.b64decode(fingerprint[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != len(PROBES) * DIMS:
        return None
    return np.frombuffer(raw, dtype=np.int8).reshape(len(PROBES), DIMS).astype(np.float64)


def is_probe(fingerprint: str) -> bool:
    return _decode(fingerprint) is not None


def matches(recorded: str, observed: str) -> bool:
    """Whether ``observed`` is the same model as ``recorded``, within tolerance."""
    a, b = _decode(recorded), _decode(observed)
    if a is None or b is None:
        return False
    if np.abs(a - b).max() > TOLERANCE:
        return False
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cosines = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-9)
    # A probe whose leading components all quantize to zero in both is the same answer (a sparse model's), not a
    # cosine of 0; zero in one only is already a difference the component check measures.
    cosines = np.where((na == 0) & (nb == 0), 1.0, cosines)
    return bool(cosines.min() >= MIN_COSINE)
