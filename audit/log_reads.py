"""The read side every audit log backend shares: size, entries, proofs and checkpoints over an in-memory tree.

A backend keeps the RFC 9162 tree of its stored leaf hashes in memory and answers proofs from it. What it
supplies is small, its "leaves source": ``_refresh`` (take in what other writers appended, through
``_take_in``), ``_leaves`` (the stored leaf bytes of a range) and ``_tenant`` (one entry's tenant column).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from audit.errors import LogCorruptedError, ProofError
from audit.merkle import leaf_hash
from audit.tree import MerkleTree


def text_or_none(value: Any) -> str | None:
    """A stored or submitted field that is a string, else None (a non-string is never trusted as text)."""
    return value if isinstance(value, str) else None


class LogReads(ABC):
    """Reads and proofs of one append-only Merkle log; ``_tree`` holds the hashes of every absorbed entry."""

    def __init__(self) -> None:
        self._tree_lock = threading.Lock()
        self._tree = MerkleTree()
        self._latest: str | None = None
        self._checkpointed_size = -1

    # ---- the leaves source --------------------------------------------------------------------------------
    @abstractmethod
    def _refresh(self) -> None:
        """Take in the entries other writers committed since the tree's size (see ``_take_in``)."""

    @abstractmethod
    def _leaves(self, start: int, end: int) -> Sequence[Sequence[Any]]:
        """Rows whose first column is the stored leaf of entries [start, end), by index."""

    @abstractmethod
    def _tenant(self, index: int) -> Sequence[Any] | None:
        """The row whose first column is the tenant stored on entry ``index``; None out of range."""

    def _take_in(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append stored (index, leaf, leaf hash) rows from the tree's size on, checking each leaf and gap."""
        with self._tree_lock:
            for idx, leaf, stored in rows:
                if idx < self._tree.size:  # absorbed meanwhile by another thread of ours
                    continue
                if idx != self._tree.size or leaf_hash(bytes(leaf)) != bytes(stored):
                    raise LogCorruptedError(f"entry {self._tree.size} is missing or does not fit the log")
                self._tree.append(bytes(stored))

    # ---- reads --------------------------------------------------------------------------------------------
    def size(self) -> int:
        """Number of durable entries."""
        self._refresh()
        with self._tree_lock:
            return self._tree.size

    def entries(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of entries [start, end), ``end`` clamped to the size."""
        end = min(end, self.size())
        if start < 0 or start > end:
            raise ProofError(f"bad entry range [{start}, {end})")
        return [bytes(row[0]) for row in self._leaves(start, end)]

    def entry_tenant(self, index: int) -> str | None:
        """Tenant recorded on entry ``index`` (None if absent or out of range)."""
        row = self._tenant(index)
        return None if row is None else text_or_none(row[0])

    def latest_checkpoint(self) -> str | None:
        """The latest signed checkpoint note."""
        with self._tree_lock:
            return self._latest

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``tree_size`` entries."""
        self._refresh()
        with self._tree_lock:
            if not 0 <= index < tree_size <= self._tree.size:
                raise ProofError(f"no inclusion proof for index {index} in size {tree_size}")
            return self._tree.inclusion_proof(index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Proof that the tree of ``second`` entries extends the tree of ``first`` entries."""
        self._refresh()
        with self._tree_lock:
            if not 0 <= first <= second <= self._tree.size:
                raise ProofError(f"no consistency proof from size {first} to {second}")
            return self._tree.consistency_proof(first, second)

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` entries (all by default)."""
        self._refresh()
        with self._tree_lock:
            return self._tree.root(size)
