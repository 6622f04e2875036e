"""Keyed, deterministic Gaussian noise for unit embedding vectors (DESIGN.md, "Noise").

The noise for a row is a pure function of (tenant key, content digest, model version), so:

* the same text always comes back as the same noisy vector: averaging N responses for one text equals one
  response, and an attacker gains nothing by asking again;
* a repeat is not a new release, so the privacy ledger charges it nothing;
* different tenants, texts or model versions get independent-looking noise.

The PRF is HMAC-SHA256 (key derivation) expanded by SHAKE-256 into uniforms, turned into standard normals by
Box-Muller. Only the standard library's hashes and fixed arithmetic are involved, so the stream is stable
across numpy releases (numpy's ``Generator`` distributions are not guaranteed to be); a silent change of the
stream would hand an attacker a second, independent draw of every stored vector.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_DOMAIN = b"gateway/privacy/noise/v1"
_TWO_POW_53 = float(2**53)


def _seed(key: bytes, digest: bytes, model_version: str) -> bytes:
    """Length-prefixed fields so that no two distinct inputs share a MAC input."""
    version = model_version.encode("utf-8")
    message = b"".join(
        (
            _DOMAIN,
            len(digest).to_bytes(4, "big"),
            digest,
            len(version).to_bytes(4, "big"),
            version,
        )
    )
    return hmac.new(key, message, hashlib.sha256).digest()


def standard_normals(seed: bytes, count: int) -> npt.NDArray[np.float64]:
    """``count`` standard normal draws, a pure function of ``seed`` (SHAKE-256 + Box-Muller)."""
    pairs = (count + 1) // 2
    raw = hashlib.shake_256(seed).digest(16 * pairs)
    words = np.frombuffer(raw, dtype=">u8").astype(np.uint64) >> np.uint64(11)
    uniforms = words.astype(np.float64) / _TWO_POW_53  # in [0, 1)
    u1 = 1.0 - uniforms[0::2]  # in (0, 1]: log is finite
    u2 = uniforms[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    normals = np.empty(2 * pairs, dtype=np.float64)
    normals[0::2] = radius * np.cos(angle)
    normals[1::2] = radius * np.sin(angle)
    return normals[:count]


def keyed_gaussian_noise(
    vectors: npt.NDArray[np.float32],
    sigma: float,
    key: bytes,
    content_digests: Sequence[bytes],
    model_version: str,
) -> npt.NDArray[np.float32]:
    """Add N(0, sigma^2) noise per coordinate, drawn from a keyed PRF of each row's content, and re-normalize.

    ``vectors`` is (n, d) float32 with unit rows; ``content_digests[i]`` identifies row i's text (an HMAC
    digest, never the text). ``sigma == 0`` returns an unchanged copy. Same inputs, identical output bytes.
    """
    if sigma < 0 or not np.isfinite(sigma):
        raise ValueError("sigma must be a finite number >= 0")
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError("vectors must be a 2-D array (n, d)")
    if len(content_digests) != matrix.shape[0]:
        raise ValueError("one content digest is needed per row")
    if not key:
        raise ValueError("the noise key must not be empty")
    if sigma == 0:
        return matrix.copy()
    n, d = matrix.shape
    noise = np.empty((n, d), dtype=np.float64)
    for i, digest in enumerate(content_digests):
        noise[i] = standard_normals(_seed(key, bytes(digest), model_version), d)
    noisy = matrix.astype(np.float64) + sigma * noise
    norms = np.linalg.norm(noisy, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0  # measure-zero case; leave such a row as it is rather than divide by zero
    result: npt.NDArray[np.float32] = (noisy / norms).astype(np.float32)
    return result
