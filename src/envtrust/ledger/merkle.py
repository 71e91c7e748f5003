"""The Merkle tree of the ledger, exactly as RFC 9162 §2.1 (the same tree as RFC 6962 §2.1).

Hashing: leaf ``SHA-256(0x00 ‖ entry)``, interior node ``SHA-256(0x01 ‖ left ‖ right)``, and the tree head
of the empty tree is ``SHA-256("")``.  ``MTH(D[n])`` splits ``D[n]`` at ``k``, the largest power of two
smaller than ``n``.

Storage model.  A *node* ``(level, index)`` is the root of the **perfect** subtree over leaves
``[index·2^level, (index+1)·2^level)``; level 0 nodes are the leaf hashes.  A perfect node never changes
once its last leaf is appended, so it is the only thing a store keeps.  Every tree head and every proof for
a tree of size ``n`` is computed from O(log n) such nodes, all complete at size ``n``, fetched in one
batched read.  Each computation therefore comes in two steps::

    keys = inclusion_keys(index, size)          # which nodes (pure arithmetic)
    nodes = store.fetch(keys)                    # one read: {(level, index): hash}
    proof = inclusion_proof(index, size, nodes)  # the RFC 9162 PATH, from those nodes

:class:`Appender` is the sequencer's side: it keeps the *frontier* (the perfect nodes of ``root_keys(size)``,
at most one per level) and, per batch of leaves, returns every newly completed node so a store can insert
them.

The verification functions (:func:`verify_inclusion`, :func:`verify_consistency`) follow RFC 9162 §2.1.3.2
and §2.1.4.2 step by step and never raise: anything malformed is simply ``False``.

At the end is a naive reference (``ref_mth``, ``ref_path``, ``ref_proof``), written directly from the RFC's
recursive definitions over a list of entries; the tests hold the fast code against it.

Pure: standard library only, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Appender",
    "NodeKey",
    "consistency_keys",
    "consistency_proof",
    "inclusion_keys",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "range_keys",
    "ref_mth",
    "ref_path",
    "ref_proof",
    "root_hash",
    "root_keys",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index·2^level, (index+1)·2^level)``."""

Range = tuple[int, int]
"""``(start, end)``: leaves ``[start, end)`` whose MTH is one proof element."""

_sha256 = hashlib.sha256
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 ‖ entry)``: the hash of one leaf (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``: the hash of an interior node (RFC 9162 §2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """``k``: the largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


# --------------------------------------------------------------------------------------------------------
# Tree heads over ranges of leaves
# --------------------------------------------------------------------------------------------------------


def range_keys(start: int, end: int) -> list[NodeKey]:
    """The perfect nodes that tile leaves ``[start, end)`` the way ``MTH(D[start:end])`` is built.

    ``MTH`` of ``n`` leaves is a right-leaning chain of perfect subtrees, one per set bit of ``n``, largest
    first.  They are stored nodes only when ``start`` is a multiple of the largest of them, which holds for
    every subtree of the RFC tree (and for ``start == 0``); otherwise :class:`ValueError`.
    An empty range has no keys (its hash, for ``start == 0``, is :data:`EMPTY_ROOT`).
    """
    _check_size("start", start)
    if end < start:
        raise ValueError(f"range [{start}, {end}) is reversed")
    keys: list[NodeKey] = []
    pos = start
    rest = end - start
    while rest:
        level = rest.bit_length() - 1  # the largest remaining block
        width = 1 << level
        if pos & (width - 1):
            raise ValueError(f"range [{start}, {end}) does not start on a subtree edge")
        keys.append((level, pos >> level))
        pos += width
        rest -= width
    return keys


def _fold(keys: Sequence[NodeKey], nodes: Mapping[NodeKey, bytes]) -> bytes:
    """Right fold of the chain of perfect nodes: ``H(k0, H(k1, … H(k_{j-1}, k_j)))``."""
    if not keys:
        return EMPTY_ROOT
    acc = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        acc = _sha256(_NODE_PREFIX + nodes[key] + acc).digest()
    return acc


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """``MTH(D[start:end])`` from the nodes of :func:`range_keys` (``KeyError`` if one is missing)."""
    return _fold(range_keys(start, end), nodes)


def root_keys(size: int) -> list[NodeKey]:
    """The nodes the tree head of ``size`` leaves is built from (``range_keys(0, size)``): the frontier."""
    return range_keys(0, size)


def root_hash(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """``MTH(D[0:size])`` from the nodes of :func:`root_keys`; :data:`EMPTY_ROOT` for size 0."""
    return _fold(root_keys(size), nodes)


# --------------------------------------------------------------------------------------------------------
# Proofs: a plan of leaf ranges (one per proof element), then keys, then hashes
# --------------------------------------------------------------------------------------------------------


def _inclusion_plan(index: int, size: int) -> list[Range]:
    """The leaf ranges whose MTHs make up ``PATH(index, D[0:size])``, in proof order (leaf upwards).

    RFC 9162 §2.1.3.1: for ``n > 1`` and ``k`` the split, ``PATH(m, D[n])`` is ``PATH(m, D[0:k]) :
    MTH(D[k:n])`` when ``m < k``, else ``PATH(m - k, D[k:n]) : MTH(D[0:k])``.  Walked top-down here and
    reversed.  A sibling on the left is always perfect; the first sibling on the right may not be (its
    subtree is the tail of the tree), every later one is.
    """
    _check_size("size", size)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    plan: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            plan.append((mid, hi))
            hi = mid
        else:
            plan.append((lo, mid))
            lo = mid
    plan.reverse()
    return plan


def _consistency_plan(old_size: int, new_size: int) -> list[Range]:
    """The leaf ranges whose MTHs make up ``PROOF(m, D[0:n])``, in proof order.

    RFC 9162 §2.1.4.1: ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)``; ``SUBPROOF(m, D[m], true)`` is empty,
    ``SUBPROOF(m, D[m], false)`` is ``[MTH(D[m])]``; for ``m < n`` and ``k`` the split it is
    ``SUBPROOF(m, D[0:k], b) : MTH(D[k:n])`` when ``m <= k``, else ``SUBPROOF(m - k, D[k:n], false) :
    MTH(D[0:k])``.  Empty for ``m == 0`` and ``m == n`` (nothing to prove).
    """
    _check_size("old_size", old_size)
    if new_size < old_size:
        raise ValueError(f"old size {old_size} is larger than new size {new_size}")
    if old_size in (0, new_size):
        return []
    plan: list[Range] = []
    lo, hi = 0, new_size
    whole = True  # the RFC's b: still on the left edge, so the old tree's own head is not in the proof
    while old_size != hi:  # invariant: lo < old_size <= hi
        mid = lo + _split(hi - lo)
        if old_size <= mid:
            plan.append((mid, hi))
            hi = mid
        else:
            plan.append((lo, mid))
            lo = mid
            whole = False
    if not whole:
        plan.append((lo, hi))  # a left subtree, hence perfect
    plan.reverse()
    return plan


def _plan_keys(plan: Sequence[Range]) -> set[NodeKey]:
    keys: set[NodeKey] = set()
    for start, end in plan:
        width = end - start
        if width & (width - 1) == 0:  # a perfect subtree: one node (the plan never holds empty ranges)
            level = width.bit_length() - 1
            keys.add((level, start >> level))
        else:
            keys.update(range_keys(start, end))
    return keys


def _plan_hashes(plan: Sequence[Range], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    hashes: list[bytes] = []
    for start, end in plan:
        width = end - start
        if width & (width - 1) == 0:
            level = width.bit_length() - 1
            hashes.append(nodes[(level, start >> level)])
        else:
            hashes.append(_fold(range_keys(start, end), nodes))
    return hashes


def inclusion_keys(index: int, size: int) -> set[NodeKey]:
    """The nodes :func:`inclusion_proof` needs: at most ``2·⌈log2 size⌉ - 1``, all complete at ``size``."""
    return _plan_keys(_inclusion_plan(index, size))


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """RFC 9162 ``PATH(index, D[0:size])`` from the nodes of :func:`inclusion_keys`."""
    return _plan_hashes(_inclusion_plan(index, size), nodes)


def consistency_keys(old_size: int, new_size: int) -> set[NodeKey]:
    """The nodes :func:`consistency_proof` needs: at most ``2·⌈log2 new_size⌉ - 1``, all complete at
    ``new_size``."""
    return _plan_keys(_consistency_plan(old_size, new_size))


def consistency_proof(old_size: int, new_size: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """RFC 9162 ``PROOF(old_size, D[0:new_size])`` from the nodes of :func:`consistency_keys`.

    Empty when ``old_size`` is 0 or equal to ``new_size``.
    """
    return _plan_hashes(_consistency_plan(old_size, new_size), nodes)


# --------------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2); never raises
# --------------------------------------------------------------------------------------------------------


_BYTES: Final = (bytes, bytearray)
_NOT_PATHS: Final = (bytes, bytearray, memoryview, str)


def _is_hash(value: object) -> bool:
    return isinstance(value, _BYTES) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_path(proof: object) -> bool:
    """A sequence (not a byte string) of :data:`HASH_SIZE`-byte hashes."""
    if not isinstance(proof, list | tuple) and (
        not isinstance(proof, Sequence) or isinstance(proof, _NOT_PATHS)
    ):
        return False
    return all(isinstance(p, _BYTES) and len(p) == HASH_SIZE for p in proof)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows that the leaf whose **leaf hash** is ``leaf`` sits at ``index`` in the tree of
    ``size`` leaves whose head is ``root`` (RFC 9162 §2.1.3.2; ``leaf`` is ``leaf_hash(entry)``).

    Every hash must be :data:`HASH_SIZE` bytes; sizes and index must be non-negative integers.
    """
    if not (_is_hash(leaf) and _is_hash(root) and _is_size(index) and _is_size(size) and _is_path(proof)):
        return False
    # 1. leaf_index must be smaller than tree_size.
    if index >= size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1;  3. r = hash.
    fn, sn = index, size - 1
    r = bytes(leaf)
    sha, prefix = _sha256, _NODE_PREFIX
    # 4. For each p in inclusion_path:
    for p in proof:
        # a. sn == 0: path too long.
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn: p is a left sibling.
        if fn & 1 or fn == sn:
            r = sha(prefix + p + r).digest()
            # ii. if LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0
            #     (skips the levels where this node is a lone rightmost child).
            while not (fn & 1 or fn == 0):
                fn >>= 1
                sn >>= 1
        else:
            r = sha(prefix + r + p).digest()
        # c. one level up.
        fn >>= 1
        sn >>= 1
    # 5. the path must be used up (sn == 0) and arrive at the root.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows that the tree of ``old_size`` leaves with head ``old_root`` is a prefix of the
    tree of ``new_size`` leaves with head ``new_root`` (RFC 9162 §2.1.4.2).

    The RFC algorithm covers ``0 < old_size < new_size``.  Around it: ``old_size == new_size`` needs an empty
    proof and equal roots; ``old_size == 0`` is consistent with any tree (empty proof); ``old_size >
    new_size``, negative sizes, hashes that are not :data:`HASH_SIZE` bytes are ``False``.
    """
    if not (
        _is_size(old_size)
        and _is_size(new_size)
        and _is_hash(old_root)
        and _is_hash(new_root)
        and _is_path(proof)
    ):
        return False
    if old_size > new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0
    # 1. An empty consistency_path fails.
    if len(proof) == 0:
        return False
    # 2. If first is an exact power of 2, prepend first_hash.
    path: list[bytes] = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. While LSB(fn) is set, right-shift fn and sn.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of the path.
    fr = sr = path[0]
    sha, prefix = _sha256, _NODE_PREFIX
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a. sn == 0: path too long.
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn: c is a left sibling, inside both trees.
        if fn & 1 or fn == sn:
            fr = sha(prefix + c + fr).digest()
            sr = sha(prefix + c + sr).digest()
            # iii. if LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0.
            while not (fn & 1 or fn == 0):
                fn >>= 1
                sn >>= 1
        else:
            # c is a right sibling, only in the new tree.
            sr = sha(prefix + sr + c).digest()
        # c. one level up.
        fn >>= 1
        sn >>= 1
    # 7. Both heads reproduced and the path used up.
    return fr == old_root and sr == new_root and sn == 0


# --------------------------------------------------------------------------------------------------------
# Appending
# --------------------------------------------------------------------------------------------------------


class Appender:
    """Batched append by one sequencer.

    Holds the *frontier*: the roots of the perfect subtrees of the current tree (at most one per level,
    i.e. the nodes of ``root_keys(size)``), so appending needs no reads.  Resume after a restart with
    ``Appender(size, {k: stored[k] for k in root_keys(size)})``.
    """

    __slots__ = ("_frontier", "_root", "size")

    size: int

    def __init__(self, size: int = 0, frontier: Mapping[NodeKey, bytes] | None = None) -> None:
        _check_size("size", size)
        keys = root_keys(size)
        given = dict(frontier) if frontier is not None else {}
        if set(given) != set(keys):
            raise ValueError(
                f"frontier for size {size} must have exactly the nodes {keys}, got {sorted(given)}"
            )
        for key, value in given.items():
            if not _is_hash(value):
                raise ValueError(f"frontier node {key} is not a {HASH_SIZE}-byte hash")
        self.size = size
        self._frontier: dict[NodeKey, bytes] = {key: bytes(given[key]) for key in keys}
        self._root: bytes | None = None

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaves (their leaf hashes, in order) and return every newly completed perfect node as
        ``(level, index, hash)``, level 0 (the leaves themselves) included.

        Nodes come level by level, bottom up and left to right within a level, so every node follows the
        two it is made of.  Afterwards :attr:`size` has grown by ``len(leaf_hashes)`` and :meth:`root` is
        the new tree head.
        """
        count = len(leaf_hashes)
        for value in leaf_hashes:
            if not _is_hash(value):
                raise ValueError(f"leaf hashes must be {HASH_SIZE}-byte hashes")
        if count == 0:
            return []
        old_size = self.size
        new_size = old_size + count
        frontier = self._frontier
        out: list[tuple[int, int, bytes]] = []
        last: dict[int, tuple[int, bytes]] = {}  # level -> rightmost node reached on that level
        sha = _sha256
        prefix = _NODE_PREFIX
        level = 0
        start = old_size  # index of the first new node on this level
        row: list[bytes] = [bytes(h) for h in leaf_hashes]
        while row:
            out.extend([(level, i, h) for i, h in enumerate(row, start)])
            if start & 1:  # the new row's first node is a right child: its left sibling is in the frontier
                row.insert(0, frontier[(level, start - 1)])
                start -= 1
            last[level] = (start + len(row) - 1, row[-1])
            row = [sha(prefix + a + b).digest() for a, b in zip(row[0::2], row[1::2], strict=False)]
            start >>= 1
            level += 1
        new_frontier: dict[NodeKey, bytes] = {}
        for key in root_keys(new_size):
            if key in frontier:
                new_frontier[key] = frontier[key]
            else:
                index, value = last[key[0]]
                assert index == key[1]
                new_frontier[key] = value
        self._frontier = new_frontier
        self.size = new_size
        self._root = None
        return out

    def root(self) -> bytes:
        """The tree head ``MTH(D[0:size])`` (:data:`EMPTY_ROOT` for the empty tree)."""
        if self._root is None:
            self._root = root_hash(self.size, self._frontier)
        return self._root

    def frontier(self) -> dict[NodeKey, bytes]:
        """A copy of the frontier: ``{key: hash for key in root_keys(size)}``."""
        return dict(self._frontier)


# --------------------------------------------------------------------------------------------------------
# Reference implementation: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 written out literally, for the tests.
# Quadratic and recursive; do not use it for real work.
# --------------------------------------------------------------------------------------------------------


def ref_mth(entries: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` by the RFC's recursive definition."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:])).digest()


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """``PATH(m, D[n])`` by the RFC's recursive definition (``0 <= m < n``)."""
    n = len(entries)
    if not 0 <= m < n:
        raise ValueError("m out of range")
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` by the RFC's recursive definition (``0 < m <= n``;
    empty for ``m == 0``, which the RFC leaves undefined and which needs no proof)."""
    n = len(entries)
    if not 0 <= m <= n:
        raise ValueError("m out of range")
    if m == 0:
        return []

    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [ref_mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return [*subproof(m, d[:k], b), ref_mth(d[k:])]
        return [*subproof(m - k, d[k:], False), ref_mth(d[:k])]

    return subproof(m, entries, True)
