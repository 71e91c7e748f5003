"""Split uploads (Flag D bit, PNUM/PNO): reassembly in any arrival order and expiry (§1.6, E17, E22)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrust.hj212 import Frame, Item, Reassembler, merge_fragments, parse_frame, upload

from .support import FAST, decode, sizes_from_cuts


def fragments(
    pnum: int,
    *,
    mn: str = "MN0001",
    cn: str = "2061",
    data_time: str = "20160801080000",
    flag: int = 7,
    qn_base: int = 20160801085857534,
) -> list[Frame]:
    """A C.49/C.50-style split upload: each fragment its own QN, the same DataTime, two items per fragment."""
    out = []
    for pno in range(1, pnum + 1):
        items = [
            Item(f"a{pno:02d}{k:03d}", {"Avg": f"{pno}.{k}", "Flag": "N"}, f"a{pno:02d}{k:03d}")
            for k in range(2)
        ]
        raw = upload(
            qn=str(qn_base + pno - 1),
            st="31",
            cn=cn,
            pw="123456",
            mn=mn,
            data_time=data_time,
            items=items,
            flag=flag,
            pnum=pnum,
            pno=pno,
        )
        result = parse_frame(raw)
        assert isinstance(result, Frame)
        assert result.is_split == bool(flag & 2)
        out.append(result)
    return out


def check_whole(whole: Frame, parts: list[Frame]) -> None:
    """The merged packet: fragment 1's header without PNUM/PNO, items and raw bytes in PNO order."""
    assert whole.fields == {k: v for k, v in parts[0].fields.items() if k not in ("PNUM", "PNO")}
    assert whole.qn == parts[0].qn
    assert whole.items == tuple(item for part in parts for item in part.items)
    assert whole.raw == b"".join(p.raw for p in parts)
    assert whole.data_time == parts[0].data_time
    assert f"reassembled from {len(parts)} packets" in whole.warnings


def test_fragments_have_distinct_qns() -> None:
    """E17/C.49-C.50: fragments carry their own QN, so QN cannot be the reassembly key."""
    parts = fragments(3)
    assert len({p.qn for p in parts}) == 3
    assert [(p.pnum, p.pno) for p in parts] == [(3, 1), (3, 2), (3, 3)]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_every_arrival_order_of_three(order: tuple[int, ...]) -> None:
    """E22: fragments arriving in any order give one packet, when the last one arrives, in PNO order."""
    parts = fragments(3)
    reassembler = Reassembler()
    results = [reassembler.add(parts[i], now=float(n)) for n, i in enumerate(order)]
    assert results[:2] == [None, None]
    whole = results[2]
    assert whole is not None
    check_whole(whole, parts)
    assert len(reassembler) == 0


@FAST
@given(st.integers(1, 8).flatmap(lambda n: st.permutations(range(n))))
def test_any_arrival_order(order: list[int]) -> None:
    """E22 (hypothesis): any permutation of PNUM fragments reassembles to the same packet."""
    parts = fragments(len(order))
    reassembler = Reassembler()
    results = [reassembler.add(parts[i], now=0.0) for i in order]
    assert all(r is None for r in results[:-1])
    whole = results[-1]
    assert whole is not None
    check_whole(whole, parts)
    assert whole == merge_fragments(parts)


@FAST
@given(st.data())
def test_interleaved_packets_are_kept_apart(data: st.DataObject) -> None:
    """§1.6: the key is (MN, CN, DataTime, PNUM); interleaved packets that differ in any of them stay apart."""
    packets = [
        fragments(3),
        fragments(3, mn="MN0002"),
        fragments(3, cn="2051"),
        fragments(3, data_time="20160801090000"),
        fragments(2),  # same MN, CN and DataTime, different PNUM
    ]
    arrivals = data.draw(
        st.permutations([(k, i) for k, parts in enumerate(packets) for i in range(len(parts))])
    )
    reassembler = Reassembler()
    done = {}
    for k, i in arrivals:
        whole = reassembler.add(packets[k][i], now=0.0)
        if whole is not None:
            assert k not in done
            done[k] = whole
    assert sorted(done) == list(range(len(packets)))
    for k, whole in done.items():
        check_whole(whole, packets[k])
    assert len(reassembler) == 0


def test_reassembly_through_the_decoder() -> None:
    """Fragments decoded from one byte stream, cut anywhere, reassemble like parsed ones."""
    parts = fragments(4)
    data = b"".join(p.raw for p in reversed(parts))
    for cuts in ([], list(range(0, len(data), 13)), [5, 200, 201, 400]):
        events = decode(data, sizes_from_cuts(cuts, len(data)))
        reassembler = Reassembler()
        out = [reassembler.add(e, now=0.0) for e in events if isinstance(e, Frame)]
        whole = out[-1]
        assert out[:-1] == [None, None, None] and whole is not None
        check_whole(whole, parts)


def test_unsplit_frames_pass_straight_through() -> None:
    """A frame without the D bit is returned as it is, even if it carries PNUM/PNO."""
    reassembler = Reassembler()
    plain = fragments(2, flag=5)[0]  # PNUM/PNO present but Flag=5 has no D bit
    assert not plain.is_split
    assert reassembler.add(plain, now=0.0) is plain
    assert len(reassembler) == 0


@pytest.mark.parametrize(("pnum", "pno"), [(0, 1), (0, 0), (2, 3), (2, 0)])
def test_impossible_numbering_passes_straight_through(pnum: int, pno: int) -> None:
    """E22: PNUM=0 or a PNO outside 1..PNUM can never complete a packet; the frame is kept as it is
    (it neither crashes the reassembler nor vanishes from a merged packet)."""
    raw = upload(
        qn="1",
        st="31",
        cn="2061",
        pw="1",
        mn="M",
        data_time="20160801080000",
        items=[],
        flag=6,
        pnum=pnum,
        pno=pno,
    )
    odd = parse_frame(raw)
    assert isinstance(odd, Frame) and odd.is_split
    reassembler = Reassembler()
    assert reassembler.add(odd, now=0.0) is odd
    assert len(reassembler) == 0


def test_duplicate_fragment_keeps_the_first_copy() -> None:
    """E16: a fragment re-sent (same PNO) does not complete or disturb the packet; the first copy is used."""
    parts = fragments(2)
    resent = fragments(2, qn_base=20160801085900000)[0]
    reassembler = Reassembler()
    assert reassembler.add(parts[0], now=0.0) is None
    assert reassembler.add(resent, now=1.0) is None
    whole = reassembler.add(parts[1], now=2.0)
    assert whole is not None
    check_whole(whole, parts)


def test_incomplete_packets_expire_after_the_timeout() -> None:
    """E22: a packet still missing fragments ``timeout`` seconds after its first one is given up, its
    fragments returned in PNO order; a later fragment starts a new group."""
    parts = fragments(4)
    reassembler = Reassembler(timeout=60.0)
    assert reassembler.add(parts[2], now=100.0) is None
    assert reassembler.add(parts[0], now=130.0) is None
    assert reassembler.expire(now=159.9) == []
    assert len(reassembler) == 1
    assert reassembler.expire(now=160.0) == [[parts[0], parts[2]]]
    assert len(reassembler) == 0
    assert reassembler.expire(now=1000.0) == []
    # the stragglers after expiry start over and never complete the old packet by themselves
    assert reassembler.add(parts[1], now=170.0) is None
    assert reassembler.add(parts[3], now=171.0) is None
    assert reassembler.expire(now=230.0) == [[parts[1], parts[3]]]


def test_expiry_is_per_packet() -> None:
    """Only packets older than the timeout expire; a complete packet is never returned by expire()."""
    old, new = fragments(2, mn="OLD"), fragments(2, mn="NEW")
    reassembler = Reassembler(timeout=10.0)
    assert reassembler.add(old[0], now=0.0) is None
    assert reassembler.add(new[0], now=8.0) is None
    assert reassembler.expire(now=10.0) == [[old[0]]]
    assert reassembler.add(new[1], now=12.0) is not None
    assert reassembler.expire(now=100.0) == []
