"""An in-memory Merkle tree that caches every perfect subtree, for the log's proofs.

The log serves inclusion and consistency proofs for any size it has held; hashing the whole range per
request would make each proof O(n). Caching the hash of every complete, aligned subtree (level k holds
the roots of subtrees of 2**k leaves) costs about 64 bytes per leaf and makes any subtree hash O(log n).
"""

from __future__ import annotations

from audit.merkle import EMPTY_ROOT, consistency_proof, inclusion_proof, node_hash


class MerkleTree:
    """Append-only tree of leaf hashes with O(log n) roots and proofs for any earlier size."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][index]

    def append(self, leaf: bytes) -> None:
        """Append a leaf hash, completing the perfect subtrees it closes."""
        self._levels[0].append(leaf)
        index, level = len(self._levels[0]) - 1, 0
        while index & 1:
            row = self._levels[level]
            parent = node_hash(row[index - 1], row[index])
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(parent)
            index >>= 1
            level += 1

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for the ranges RFC 9162's recursions visit (``lo`` aligned to the range's split)."""
        if lo >= hi:
            return EMPTY_ROOT
        pieces: list[bytes] = []
        while lo < hi:
            width = lo & -lo if lo else 1 << (hi - lo).bit_length()
            while lo + width > hi:
                width >>= 1
            level = width.bit_length() - 1
            pieces.append(self._levels[level][lo >> level])
            lo += width
        r = pieces[-1]
        for piece in reversed(pieces[:-1]):
            r = node_hash(piece, r)
        return r

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (all leaves by default)."""
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"size {n} is larger than the tree ({self.size})")
        return self.subtree(0, n)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        if size > self.size:
            raise ValueError(f"size {size} is larger than the tree ({self.size})")
        return inclusion_proof(index, size, self.subtree)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Proof that the tree of ``second`` leaves extends the tree of ``first`` leaves."""
        if second > self.size:
            raise ValueError(f"size {second} is larger than the tree ({self.size})")
        return consistency_proof(first, second, self.subtree)
