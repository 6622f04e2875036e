"""The protection stage as the pipeline calls it: transform, then keyed noise.

The transform comes first so that the fitted subspace removal sees the model's own space; the noise that
follows is isotropic, so a rotation before or after it gives the same distribution. The pipeline records the
releases in the ledger; this function is pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gateway.privacy.noise import keyed_gaussian_noise
from gateway.privacy.transform import VectorTransform


def space_version(model_version: str, transform: VectorTransform) -> str:
    """The embedding-space version a protected vector belongs to: the model's and the transform's."""
    return f"{model_version}+{transform.version}"


def protect(
    vectors: npt.NDArray[np.float32],
    *,
    sigma: float,
    key: bytes,
    content_digests: Sequence[bytes],
    model_version: str,
    transform: VectorTransform,
) -> npt.NDArray[np.float32]:
    """Apply ``transform`` (keyed by ``key``) and then keyed noise at ``sigma``; rows stay unit length."""
    transformed = transform.apply(vectors, key)
    return keyed_gaussian_noise(
        transformed, sigma, key, content_digests, space_version(model_version, transform)
    )
