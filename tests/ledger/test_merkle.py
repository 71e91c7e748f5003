"""The ledger's Merkle tree (RFC 9162 §2.1): published vectors, the naive reference, tampering, key counts.

Known-answer vectors are from transparency-dev/merkle (Go), the successor of certificate-transparency-go's
merkle package:

* ``testonly/constants.go`` (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1): the eight leaf inputs, the
  hash of every perfect node of the 8-leaf tree (``NodeHashes``), the tree head at every size 0..8
  (``RootHashes``) and the compact-range frontier at every size (``CompactTrees``);
* ``proof/verify_test.go`` (commit 02194e9afb6c1d95b5381350007963aa70fff472): inclusion proofs
  (``inclusionProofs``, whose leaf numbers there are 1-based) and consistency proofs (``consistencyProofs``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from envtrust.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Appender,
    NodeKey,
    consistency_keys,
    consistency_proof,
    inclusion_keys,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    range_keys,
    ref_mth,
    ref_path,
    ref_proof,
    root_hash,
    root_keys,
    verify_consistency,
    verify_inclusion,
)

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(FAST, max_examples=150)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- published vectors (see module docstring for the source) -------------------------------------------

VECTOR_LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

VECTOR_NODES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

VECTOR_ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# CompactTrees(): the frontier at each size, as (level, index) into VECTOR_NODES.
VECTOR_FRONTIERS: list[list[NodeKey]] = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# (index, size, proof); verify_test.go numbers leaves from 1, these are 0-based.
VECTOR_INCLUSION = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (0, 1, []),
]

# (old_size, new_size, proof)
VECTOR_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


@functools.cache
def vector_nodes() -> dict[NodeKey, bytes]:
    return {(level, i): value for level, row in enumerate(VECTOR_NODES) for i, value in enumerate(row)}


# --- a larger deterministic log and its reference answers ----------------------------------------------

MAX = 300
ENTRIES = [VECTOR_LEAVES[i % 8] + f"entry {i}".encode() * (i % 3) for i in range(MAX)]
LEAF_HASHES = [leaf_hash(e) for e in ENTRIES]


@functools.cache
def ref_root(size: int) -> bytes:
    return ref_mth(ENTRIES[:size])


@functools.cache
def ref_nodes() -> dict[NodeKey, bytes]:
    """Every perfect node of the MAX-leaf tree, each computed by the reference over its own leaves."""
    nodes: dict[NodeKey, bytes] = {}
    level = 0
    while (1 << level) <= MAX:
        for i in range(MAX >> level):
            nodes[(level, i)] = ref_mth(ENTRIES[i << level : (i + 1) << level])
        level += 1
    return nodes


def complete_at(key: NodeKey, size: int) -> bool:
    level, index = key
    return level >= 0 and index >= 0 and (index + 1) << level <= size


def clog2(n: int) -> int:
    return (n - 1).bit_length()


def path_shape(m: int, n: int) -> list[str]:
    """Side of each PATH(m, D[n]) element's sibling, straight from the RFC's recursion."""
    if n == 1:
        return []
    k = 1 << (clog2(n) - 1)
    return [*path_shape(m, k), "R"] if m < k else [*path_shape(m - k, n - k), "L"]


def proof_shape(m: int, n: int) -> list[str]:
    """Role of each PROOF(m, D[n]) element (T: the old subtree's own head), straight from the RFC."""

    def sub(m: int, n: int, b: bool) -> list[str]:
        if m == n:
            return [] if b else ["T"]
        k = 1 << (clog2(n) - 1)
        return [*sub(m, k, b), "R"] if m <= k else [*sub(m - k, n - k, False), "L"]

    return sub(m, n, True) if 0 < m < n else []


# --- hashing and the published vectors ------------------------------------------------------------------


def test_hash_definitions() -> None:
    assert HASH_SIZE == 32
    assert EMPTY_ROOT == VECTOR_ROOTS[0] == ref_mth([])
    assert leaf_hash(b"") == VECTOR_NODES[0][0]
    assert node_hash(VECTOR_NODES[0][0], VECTOR_NODES[0][1]) == VECTOR_NODES[1][0]
    assert root_hash(0, {}) == EMPTY_ROOT
    assert Appender().root() == EMPTY_ROOT


def test_vector_nodes_and_roots_one_batch() -> None:
    appender = Appender()
    added = appender.append([leaf_hash(e) for e in VECTOR_LEAVES])
    assert {(level, i): value for level, i, value in added} == vector_nodes()
    assert len(added) == 15
    assert appender.size == 8
    assert appender.root() == VECTOR_ROOTS[8]


def test_vector_roots_and_frontiers_leaf_by_leaf() -> None:
    appender = Appender()
    for size in range(1, 9):
        appender.append([leaf_hash(VECTOR_LEAVES[size - 1])])
        assert appender.root() == VECTOR_ROOTS[size]
        assert root_keys(size) == VECTOR_FRONTIERS[size]
        assert appender.frontier() == {k: vector_nodes()[k] for k in VECTOR_FRONTIERS[size]}
    for size, root in enumerate(VECTOR_ROOTS):
        assert ref_mth(VECTOR_LEAVES[:size]) == root
        assert root_hash(size, vector_nodes()) == root


@pytest.mark.parametrize(("index", "size", "proof"), VECTOR_INCLUSION)
def test_vector_inclusion(index: int, size: int, proof: list[bytes]) -> None:
    keys = inclusion_keys(index, size)
    nodes = {k: vector_nodes()[k] for k in keys}
    assert inclusion_proof(index, size, nodes) == proof
    assert ref_path(index, VECTOR_LEAVES[:size]) == proof
    leaf, root = leaf_hash(VECTOR_LEAVES[index]), VECTOR_ROOTS[size]
    assert verify_inclusion(leaf, index, size, proof, root)
    # transparency-dev's corruptInclusionProof probes.
    probes: list[tuple[bytes, int, int, Sequence[bytes], bytes]] = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [b"", *proof], root),
        (leaf, index, size, [root, *proof], root),
    ]
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((leaf, index, size, bad, root))
    for probe in probes:
        assert verify_inclusion(*probe) is False, probe


@pytest.mark.parametrize(("old", "new", "proof"), VECTOR_CONSISTENCY)
def test_vector_consistency(old: int, new: int, proof: list[bytes]) -> None:
    nodes = {k: vector_nodes()[k] for k in consistency_keys(old, new)}
    assert consistency_proof(old, new, nodes) == proof
    assert ref_proof(old, VECTOR_LEAVES[:new]) == proof
    r1, r2 = VECTOR_ROOTS[old], VECTOR_ROOTS[new]
    assert verify_consistency(old, new, r1, r2, proof)
    if not proof:
        return
    # transparency-dev's corruptConsistencyProof probes.
    probes: list[tuple[int, int, bytes, bytes, Sequence[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, SOME_HASH, r2, proof),
        (old, new, r1, SOME_HASH, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((old, new, r1, r2, bad))
    for probe in probes:
        assert verify_consistency(*probe) is False, probe


def test_consistency_edge_cases() -> None:
    """transparency-dev's TestVerifyConsistency table, with 32-byte stand-ins for its "don't care" roots."""
    r1, r2 = leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2")
    assert not verify_consistency(0, 0, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, r2, [])
    assert not verify_consistency(1, 1, EMPTY_ROOT, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert consistency_proof(0, 5, {}) == [] and consistency_keys(0, 5) == set()
    assert consistency_proof(5, 5, {}) == [] and consistency_keys(5, 5) == set()


def test_inclusion_edge_cases() -> None:
    """transparency-dev's TestVerifyInclusion(SingleEntry) tables: no index fits an empty tree."""
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(b"", 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], b"")
        assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


# --- against the reference -------------------------------------------------------------------------------


def test_every_size_leaf_by_leaf() -> None:
    """One leaf per batch: the root at every size 0..MAX, and exactly the reference's nodes come out."""
    appender = Appender()
    got: dict[NodeKey, bytes] = {}
    for size in range(1, MAX + 1):
        added = appender.append([LEAF_HASHES[size - 1]])
        assert [(lv, i) for lv, i, _ in added] == [k for k in ref_nodes() if (k[1] + 1) << k[0] == size]
        got.update({(lv, i): value for lv, i, value in added})
        assert appender.root() == ref_root(size)
        assert appender.frontier() == {k: got[k] for k in root_keys(size)}
    assert got == ref_nodes()


@st.composite
def batches(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A starting size (resumed from a frontier) and batch lengths, together at most MAX leaves."""
    start = draw(st.integers(0, MAX))
    cuts = sorted(draw(st.lists(st.integers(start, MAX), max_size=12)))
    end = draw(st.integers(start, MAX))
    cuts = [c for c in cuts if c <= end]
    bounds = [start, *cuts, end]
    return start, [b - a for a, b in itertools.pairwise(bounds)]


@FAST
@given(batches())
def test_batched_appends_match_reference(plan: tuple[int, list[int]]) -> None:
    start, lengths = plan
    nodes = ref_nodes()
    appender = Appender(start, {k: nodes[k] for k in root_keys(start)})
    assert appender.root() == ref_root(start)
    got: dict[NodeKey, bytes] = {}
    size = start
    for length in lengths:
        added = appender.append(LEAF_HASHES[size : size + length])
        # Each node after the two it is made of (an order a database with a parent check could insert).
        seen: set[NodeKey] = set()
        for level, i, value in added:
            assert nodes[(level, i)] == value
            assert (level, i) not in got
            if level > 0:
                for child in ((level - 1, 2 * i), (level - 1, 2 * i + 1)):
                    assert child in seen or child in got or complete_at(child, start)
            seen.add((level, i))
            got[(level, i)] = value
        size += length
        assert appender.size == size
        assert appender.root() == ref_root(size)
        assert appender.frontier() == {k: nodes[k] for k in root_keys(size)}
    # Exactly the nodes completed between start and the final size, each once.
    assert set(got) == {k for k in nodes if complete_at(k, size) and not complete_at(k, start)}


def test_exhaustive_small_trees() -> None:
    """Every inclusion and consistency proof of every tree up to 40 leaves, from stored nodes only."""
    nodes = ref_nodes()
    for n in range(0, 41):
        entries = ENTRIES[:n]
        assert root_hash(n, {k: nodes[k] for k in root_keys(n)}) == ref_root(n)
        for m in range(n):
            keys = inclusion_keys(m, n)
            assert all(complete_at(k, n) for k in keys)
            proof = inclusion_proof(m, n, {k: nodes[k] for k in keys})
            assert proof == ref_path(m, entries)
            assert verify_inclusion(LEAF_HASHES[m], m, n, proof, ref_root(n))
        for m in range(n + 1):
            keys = consistency_keys(m, n)
            assert all(complete_at(k, n) for k in keys)
            proof = consistency_proof(m, n, {k: nodes[k] for k in keys})
            assert proof == ref_proof(m, entries)
            assert verify_consistency(m, n, ref_root(m), ref_root(n), proof)


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    bad = list(proof)
    bad[i] = bad[i][:5] + bytes([bad[i][5] ^ 0x40]) + bad[i][6:]
    return bad


@MEDIUM
@given(st.integers(1, MAX).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))), st.data())
def test_inclusion_matches_reference_and_resists_tampering(mn: tuple[int, int], data: st.DataObject) -> None:
    m, n = mn
    nodes = ref_nodes()
    keys = inclusion_keys(m, n)
    assert all(complete_at(k, n) for k in keys)
    proof = inclusion_proof(m, n, {k: nodes[k] for k in keys})
    assert proof == ref_path(m, ENTRIES[:n])
    leaf, root = LEAF_HASHES[m], ref_root(n)
    assert verify_inclusion(leaf, m, n, proof, root)

    for i in range(len(proof)):
        assert not verify_inclusion(leaf, m, n, _flip(proof, i), root)
    if proof:
        assert not verify_inclusion(leaf, m, n, proof[:-1], root)
        assert not verify_inclusion(leaf, m, n, proof[1:], root)
    assert not verify_inclusion(leaf, m, n, [*proof, root], root)
    assert not verify_inclusion(leaf, m, n, [root, *proof], root)
    assert not verify_inclusion(LEAF_HASHES[(m + 1) % MAX], m, n, proof, root)
    assert not verify_inclusion(leaf, m, n, proof, ref_root(n - 1))
    assert not verify_inclusion(leaf, m, n, proof, leaf_hash(ENTRIES[m]) if n > 1 else SOME_HASH)
    # A wrong index never verifies: the sibling sides spell out the leaf's position.
    other = data.draw(st.integers(-2, n + 2).filter(lambda x: x != m), label="wrong index")
    assert not verify_inclusion(leaf, other, n, proof, root)
    # A wrong size verifies exactly when it gives the leaf the same path shape: the size is bound to the
    # proof only through the root, which the caller must take from the tree head of that size.
    for size in {n - 1, n + 1, 2 * n, n // 2, data.draw(st.integers(0, 4 * MAX), label="wrong size")} - {n}:
        same_shape = m < size and path_shape(m, size) == path_shape(m, n)
        assert verify_inclusion(leaf, m, size, proof, root) is same_shape


@MEDIUM
@given(st.integers(1, MAX).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))), st.data())
def test_consistency_matches_reference_and_resists_tampering(
    mn: tuple[int, int], data: st.DataObject
) -> None:
    m, n = mn
    nodes = ref_nodes()
    keys = consistency_keys(m, n)
    assert all(complete_at(k, n) for k in keys)
    proof = consistency_proof(m, n, {k: nodes[k] for k in keys})
    assert proof == ref_proof(m, ENTRIES[:n])
    r1, r2 = ref_root(m), ref_root(n)
    assert verify_consistency(m, n, r1, r2, proof)
    assume(0 < m < n)

    assert not verify_consistency(m, n, r2, r1, proof)
    assert not verify_consistency(m, n, r1, r1, proof)
    assert not verify_consistency(m, n, r1, ref_root(n - 1), proof)
    assert not verify_consistency(m, n, ref_root(m - 1), r2, proof)
    assert not verify_consistency(m, n, r1, r2, [])
    assert not verify_consistency(m, n, r1, r2, proof[:-1])
    assert not verify_consistency(m, n, r1, r2, proof[1:])
    assert not verify_consistency(m, n, r1, r2, [*proof, r2])
    assert not verify_consistency(m, n, r1, r2, [r1, *proof])
    assert not verify_consistency(n, m, r1, r2, proof)
    for i in range(len(proof)):
        assert not verify_consistency(m, n, r1, r2, _flip(proof, i))
    # Wrong sizes verify exactly when the proof has the same shape for them (see the inclusion test).
    for old, new in {
        (m - 1, n),
        (m + 1, n),
        (m, n - 1),
        (m, n + 1),
        (m, 2 * n),
        (data.draw(st.integers(0, n), label="wrong old"), n),
        (m, data.draw(st.integers(m, 4 * MAX), label="wrong new")),
    } - {(m, n)}:
        same_shape = 0 < old < new and proof_shape(old, new) == proof_shape(m, n)
        assert verify_consistency(old, new, r1, r2, proof) is same_shape, (old, new)


# --- keys: few, complete, and the right ones ------------------------------------------------------------

BIG = 10**12


def _sizes() -> st.SearchStrategy[int]:
    powers = st.integers(0, 40).flatmap(lambda e: st.sampled_from([2**e - 1, 2**e, 2**e + 1]))
    return st.one_of(st.integers(1, BIG), powers.filter(lambda n: n >= 1))


@MEDIUM
@given(_sizes(), st.data())
def test_key_counts_are_logarithmic(n: int, data: st.DataObject) -> None:
    """Bound: for n >= 2 at most 2·⌈log2 n⌉ - 1 keys.  Each plan is at most ⌈log2 n⌉ + 1 leaf ranges; all
    are single perfect nodes except at most one right sibling, the tail [mid, hi) of a subtree of 2·2^j
    leaves or fewer, tiled by at most j nodes (one per set bit of its size), and the ranges below it lie in
    a perfect subtree of 2^j leaves.  Exhaustive search for n < 1100 reaches 2·⌈log2 n⌉ - 1."""
    m = data.draw(st.integers(0, n - 1), label="index")
    old = data.draw(st.integers(0, n), label="old size")
    bound = max(0, 2 * clog2(n) - 1)
    ikeys = inclusion_keys(m, n)
    ckeys = consistency_keys(old, n)
    assert len(ikeys) <= bound
    assert len(ckeys) <= bound
    assert len(ikeys) <= 2 * math.ceil(math.log2(n)) + 2 if n > 1 else not ikeys
    assert all(complete_at(k, n) for k in ikeys | ckeys)
    # The frontier: one node per set bit of n, tiling [0, n) largest first.
    keys = root_keys(n)
    assert len(keys) == n.bit_count()
    pos = 0
    for level, index in keys:
        assert index << level == pos
        pos += 1 << level
    assert pos == n


def test_key_count_bound_is_tight_for_small_trees() -> None:
    worst = -(10**9)
    for n in range(2, 260):
        for m in range(n):
            worst = max(worst, len(inclusion_keys(m, n)) - 2 * clog2(n))
        for m in range(n + 1):
            worst = max(worst, len(consistency_keys(m, n)) - 2 * clog2(n))
    assert worst == -1


def test_range_keys() -> None:
    assert range_keys(0, 0) == []
    assert range_keys(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert range_keys(8, 13) == [(2, 2), (0, 12)]
    assert range_keys(16, 24) == [(3, 2)]
    assert range_hash(8, 13, ref_nodes()) == ref_mth(ENTRIES[8:13])
    assert range_hash(0, 13, ref_nodes()) == root_hash(13, ref_nodes()) == ref_root(13)
    for start, end in [(1, 3), (2, 7), (4, 13), (-1, 2), (5, 4)]:
        with pytest.raises(ValueError):
            range_keys(start, end)
    with pytest.raises(ValueError):
        inclusion_keys(5, 5)
    with pytest.raises(ValueError):
        inclusion_keys(-1, 5)
    with pytest.raises(ValueError):
        consistency_keys(6, 5)
    with pytest.raises(KeyError):
        inclusion_proof(3, 8, {})


def test_appender_validates_its_inputs() -> None:
    nodes = ref_nodes()
    with pytest.raises(ValueError):
        Appender(5)  # no frontier
    with pytest.raises(ValueError):
        Appender(5, {k: nodes[k] for k in root_keys(6)})
    with pytest.raises(ValueError):
        Appender(5, {(2, 0): nodes[(2, 0)], (0, 4): b"short"})
    with pytest.raises(ValueError):
        Appender(-1)
    appender = Appender(5, {k: nodes[k] for k in root_keys(5)})
    with pytest.raises(ValueError):
        appender.append([LEAF_HASHES[5], b"not a hash"])
    assert appender.size == 5  # nothing half-applied
    assert appender.append([]) == []
    assert appender.root() == ref_root(5)
    frontier = appender.frontier()
    frontier.clear()
    assert appender.frontier() != {}


# --- verification never raises ----------------------------------------------------------------------------

_junk = st.one_of(
    st.binary(max_size=40),
    st.binary(min_size=32, max_size=32),
    st.none(),
    st.text(max_size=3),
    st.integers(),
)
_ints = st.one_of(st.integers(-(2**70), 2**70), st.integers(-3, 20), st.booleans(), st.none(), st.floats())
_paths = st.one_of(st.lists(_junk, max_size=6), st.binary(max_size=64), st.none(), st.text(max_size=3))


@FAST
@given(_junk, _ints, _ints, _paths, _junk)
def test_verify_inclusion_never_raises(
    leaf: object, index: object, size: object, proof: object, root: object
) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) in (True, False)  # type: ignore[arg-type]


@FAST
@given(_ints, _ints, _junk, _junk, _paths)
def test_verify_consistency_never_raises(
    old: object, new: object, r1: object, r2: object, proof: object
) -> None:
    assert verify_consistency(old, new, r1, r2, proof) in (True, False)  # type: ignore[arg-type]
