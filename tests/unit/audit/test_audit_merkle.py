"""RFC 9162 hashing and proofs against the Certificate Transparency test vectors.

Vectors: the 8-leaf reference tree of RFC 6962, as in google/trillian merkle/log_verifier_test.go and
transparency-dev/merkle (roots for sizes 1..8, inclusion and consistency proofs).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    list_subtree,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from audit.tree import MerkleTree

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
HASHES = [leaf_hash(x) for x in LEAVES]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _hx(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


INCLUSION = [  # (index, size, proof), index 0-based
    (0, 1, []),
    (0, 8, _hx(
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    )),
    (5, 8, _hx(
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    )),
    (2, 3, _hx("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, _hx(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    )),
]  # fmt: skip

CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (1, 8, _hx(
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    )),
    (6, 8, _hx(
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    )),
    (2, 5, _hx(
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    )),
]  # fmt: skip


def test_when_hashing_empty_tree_then_root_is_sha256_of_nothing() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_when_computing_root_of_reference_tree_then_it_matches_ct_vector(size: int) -> None:
    assert root_from_leaf_hashes(HASHES[:size]) == ROOTS[size - 1]
    tree, compact = MerkleTree(), CompactRange()
    for h in HASHES[:size]:
        tree.append(h)
        compact.append(h)
    assert tree.root() == compact.root() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_when_generating_inclusion_proof_then_it_matches_and_verifies(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert inclusion_proof(index, size, list_subtree(HASHES)) == proof
    tree = MerkleTree()
    for h in HASHES:
        tree.append(h)
    assert tree.inclusion_proof(index, size) == proof
    assert verify_inclusion(index, size, HASHES[index], proof, ROOTS[size - 1])


@pytest.mark.parametrize(("index", "size", "proof"), [c for c in INCLUSION if c[2]])
def test_when_inclusion_proof_is_altered_then_it_does_not_verify(index: int, size: int, proof: list[bytes]) -> None:
    root, leaf = ROOTS[size - 1], HASHES[index]
    assert not verify_inclusion(index + 1, size, leaf, proof, root)
    assert not verify_inclusion(index, size * 2, leaf, proof, root)
    assert not verify_inclusion(index, size, leaf_hash(b"WrongLeaf"), proof, root)
    assert not verify_inclusion(index, size, leaf, proof, EMPTY_ROOT)
    assert not verify_inclusion(index, size, leaf, [*proof, root], root)
    assert not verify_inclusion(index, size, leaf, proof[:-1], root)
    for i in range(len(proof)):
        assert not verify_inclusion(index, size, leaf, [*proof[:i], EMPTY_ROOT, *proof[i + 1 :]], root)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_when_generating_consistency_proof_then_it_matches_and_verifies(
    first: int, second: int, proof: list[bytes]
) -> None:
    assert consistency_proof(first, second, list_subtree(HASHES)) == proof
    assert verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof)


@pytest.mark.parametrize(("first", "second", "proof"), [c for c in CONSISTENCY if c[2]])
def test_when_consistency_proof_is_altered_then_it_does_not_verify(first: int, second: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    assert not verify_consistency(first, second, r2, r1, proof)
    assert not verify_consistency(first - 1, second, r1, r2, proof)
    assert not verify_consistency(first, second, r1, r2, [])
    assert not verify_consistency(first, second, r1, r2, [*proof, r1])
    assert not verify_consistency(first, second, r1, r2, proof[:-1])
    assert not verify_consistency(second, first, r2, r1, proof)
    for i in range(len(proof)):
        assert not verify_consistency(first, second, r1, r2, [*proof[:i], EMPTY_ROOT, *proof[i + 1 :]])


def test_when_sizes_are_trivial_then_consistency_needs_an_empty_proof() -> None:
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [])
    assert verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    assert not verify_consistency(3, 3, ROOTS[2], ROOTS[3], [])
    assert not verify_consistency(3, 3, ROOTS[2], ROOTS[2], [EMPTY_ROOT])


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_when_tree_grows_then_every_proof_verifies_and_matches_reference(n: int, data: st.DataObject) -> None:
    hashes = [leaf_hash(os.urandom(4)) for _ in range(n)]
    tree = MerkleTree()
    for h in hashes:
        tree.append(h)
    m = data.draw(st.integers(min_value=0, max_value=n))
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert tree.root(m) == root_from_leaf_hashes(hashes[:m])
    proof = tree.consistency_proof(m, n)
    assert proof == consistency_proof(m, n, list_subtree(hashes))
    assert verify_consistency(m, n, tree.root(m), tree.root(), proof)
    path = tree.inclusion_proof(i, n)
    assert path == inclusion_proof(i, n, list_subtree(hashes))
    assert verify_inclusion(i, n, hashes[i], path, tree.root())
