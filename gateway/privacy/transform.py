"""Keyed, versioned transformations of embedding vectors (the protection stage's second slot, issue 10 b).

Noise that keeps search useful barely slows a learned attacker (docs/privacy.md), so the stage can also:

* ``SubspaceRemoval``: project out a fitted subspace of directions that predict sensitive attributes (which
  person a text names), fitted offline on Faker-generated sentences and shipped as a small ``.npy``; an
  attacker who knows the subspace gains nothing from it, because the information is gone, not hidden.
* ``KeyedRotation``: a per-tenant orthogonal rotation derived from the tenant key. It preserves inner products
  (so search within a tenant is unchanged) but breaks any decoder trained on the public model's space
  (vec2text-class inverters, bag-of-words heads) for anyone without the key or the tenant's labelled pairs.

Each transform has a ``version`` that is part of the embedding-space version: vectors made under different
versions must never be mixed in one collection.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gateway.privacy.noise import standard_normals

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_SUBSPACE_FILE = DATA_DIR / "name_subspace.npy"

FloatMatrix = npt.NDArray[np.float32]


class VectorTransform(Protocol):
    version: str

    def apply(self, vectors: FloatMatrix, tenant_key: bytes) -> FloatMatrix: ...


def _unit_rows(matrix: npt.NDArray[np.float64]) -> FloatMatrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    result: FloatMatrix = (matrix / norms).astype(np.float32)
    return result


def _as_matrix(vectors: FloatMatrix) -> npt.NDArray[np.float64]:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("vectors must be a 2-D array (n, d)")
    return matrix


class UnsafeIdentityTransform:
    """No transformation: the vector as the model made it (after noise). Unsafe: nothing keyed stands between a
    returned or stored vector and an inversion attack (``docs/privacy.md``); the gateway warns and audits
    ``privacy.protection_off`` at every start while it is in force."""

    version = "identity"

    def apply(self, vectors: FloatMatrix, tenant_key: bytes) -> FloatMatrix:
        return np.array(vectors, dtype=np.float32, copy=True)


class KeyedRotation:
    """x -> x Q(key), Q a Haar-random orthogonal matrix drawn from a PRF of the tenant key.

    Inner products within one tenant are preserved exactly (up to float32 rounding); vectors of two tenants
    live in unrelated spaces. Matrices are cached by a one-way tag of the key, never by the key itself.
    """

    version = "rot1"
    _DOMAIN = b"gateway/privacy/rotation/v1"

    def __init__(self, cache_size: int = 16) -> None:
        self._cache: OrderedDict[bytes, npt.NDArray[np.float64]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def matrix(self, tenant_key: bytes, dim: int) -> npt.NDArray[np.float64]:
        if not tenant_key:
            raise ValueError("the rotation key must not be empty")
        seed = hmac.new(tenant_key, self._DOMAIN + dim.to_bytes(4, "big"), hashlib.sha256).digest()
        tag = hashlib.sha256(seed).digest()
        with self._lock:
            cached = self._cache.get(tag)
            if cached is not None:
                self._cache.move_to_end(tag)
                return cached
        gaussian = standard_normals(seed, dim * dim).reshape(dim, dim)
        q, r = np.linalg.qr(gaussian)
        q = q * np.sign(np.diag(r))  # the sign fix makes Q Haar-distributed and unique for the seed
        with self._lock:
            self._cache[tag] = q
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return q

    def apply(self, vectors: FloatMatrix, tenant_key: bytes) -> FloatMatrix:
        matrix = _as_matrix(vectors)
        result: FloatMatrix = (matrix @ self.matrix(tenant_key, matrix.shape[1])).astype(np.float32)
        return result


class SubspaceRemoval:
    """x -> normalize(x - B^T B x) for an orthonormal basis B (k, d) of sensitive directions."""

    def __init__(self, basis: npt.NDArray[np.floating[npt.NBitBase]], name: str = "names") -> None:
        b = np.asarray(basis, dtype=np.float64)
        if b.ndim != 2 or b.shape[0] >= b.shape[1]:
            raise ValueError("basis must be (k, d) with k < d")
        if not np.allclose(b @ b.T, np.eye(b.shape[0]), atol=1e-4):
            raise ValueError("basis rows must be orthonormal")
        self.basis = b
        digest = hashlib.sha256(np.ascontiguousarray(b.astype(np.float32)).tobytes()).hexdigest()[:12]
        self.version = f"null-{name}-{b.shape[0]}-{digest}"

    @classmethod
    def load(cls, path: Path = DEFAULT_SUBSPACE_FILE, name: str = "names") -> SubspaceRemoval:
        return cls(np.load(path, allow_pickle=False), name=name)

    def apply(self, vectors: FloatMatrix, tenant_key: bytes) -> FloatMatrix:
        matrix = _as_matrix(vectors)
        if matrix.shape[1] != self.basis.shape[1]:
            raise ValueError("vector dimension does not match the fitted subspace")
        return _unit_rows(matrix - (matrix @ self.basis.T) @ self.basis)


class ComposedTransform:
    """Apply transforms left to right; the version names every step in order."""

    def __init__(self, *steps: VectorTransform) -> None:
        self.steps = steps
        self.version = "+".join(step.version for step in steps) if steps else UnsafeIdentityTransform.version

    def apply(self, vectors: FloatMatrix, tenant_key: bytes) -> FloatMatrix:
        out = np.array(vectors, dtype=np.float32, copy=True)
        for step in self.steps:
            out = step.apply(out, tenant_key)
        return out


def default_transform() -> VectorTransform:
    """The shipped defence: remove the fitted name subspace, then rotate by the tenant key."""
    return ComposedTransform(SubspaceRemoval.load(), KeyedRotation())
