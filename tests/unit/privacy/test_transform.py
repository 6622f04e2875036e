"""Keyed transforms: rotation keeps inner products per tenant, subspace removal removes, versions compose."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.privacy.noise import keyed_gaussian_noise
from gateway.privacy.stage import protect, space_version
from gateway.privacy.transform import (
    DEFAULT_SUBSPACE_FILE,
    ComposedTransform,
    KeyedRotation,
    SubspaceRemoval,
    UnsafeIdentityTransform,
    default_transform,
)

DIM = 384


def _unit_rows(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_when_identity_applied_then_copy_of_input() -> None:
    x = _unit_rows(3)
    out = UnsafeIdentityTransform().apply(x, b"k")
    assert out.tobytes() == x.tobytes() and out is not x


def test_when_rotated_then_inner_products_preserved_within_tenant() -> None:
    x = _unit_rows(10)
    out = KeyedRotation().apply(x, b"tenant-a")
    assert np.allclose(out @ out.T, x @ x.T, atol=1e-5)


def test_when_rotated_twice_then_identical_and_other_key_differs() -> None:
    rotation = KeyedRotation()
    x = _unit_rows(4)
    a = rotation.apply(x, b"tenant-a")
    assert a.tobytes() == KeyedRotation().apply(x, b"tenant-a").tobytes()
    b = rotation.apply(x, b"tenant-b")
    # across tenants the spaces are unrelated: the same text lands far apart
    assert float(np.mean(np.sum(a * b, axis=1))) < 0.3


def test_when_rotation_key_empty_then_value_error() -> None:
    with pytest.raises(ValueError):
        KeyedRotation().apply(_unit_rows(1), b"")


def test_when_subspace_removed_then_no_component_left_and_unit_rows() -> None:
    basis = np.linalg.qr(np.random.default_rng(1).standard_normal((DIM, 5)))[0].T
    removal = SubspaceRemoval(basis)
    out = removal.apply(_unit_rows(6), b"unused")
    assert np.allclose(out @ basis.T, 0.0, atol=1e-6)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert removal.version.startswith("null-names-5-")


def test_when_basis_not_orthonormal_then_value_error() -> None:
    with pytest.raises(ValueError):
        SubspaceRemoval(np.ones((2, DIM)))


def test_when_composed_then_version_names_every_step_in_order() -> None:
    basis = np.eye(DIM)[:2]
    composed = ComposedTransform(SubspaceRemoval(basis), KeyedRotation())
    assert composed.version.endswith("+rot1")
    assert ComposedTransform().version == "identity"


def test_when_protected_then_transform_then_keyed_noise_with_space_version() -> None:
    x = _unit_rows(2)
    rotation = KeyedRotation()
    out = protect(
        x, sigma=0.02, key=b"t", content_digests=[b"a", b"b"], model_version="1.0.0", transform=rotation
    )
    expected = keyed_gaussian_noise(rotation.apply(x, b"t"), 0.02, b"t", [b"a", b"b"], "1.0.0+rot1")
    assert out.tobytes() == expected.tobytes()
    assert space_version("1.0.0", rotation) == "1.0.0+rot1"


@pytest.mark.skipif(not DEFAULT_SUBSPACE_FILE.exists(), reason="the subspace is not fitted yet")
def test_when_shipped_subspace_loaded_then_small_and_valid() -> None:
    assert DEFAULT_SUBSPACE_FILE.stat().st_size < 1_000_000
    transform = default_transform()
    out = transform.apply(_unit_rows(3), b"tenant")
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
