"""Columns of one channel (point, kind, pollutant) as numpy arrays; their packed form for the series cache.

A channel's readings over a time range become :class:`Columns`: data times (UTC epoch seconds), the value (the
real-time value for kind ``rtd``, else the average), minimum, maximum, the converted value (``ZsRtd`` or
``ZsAvg``), the cumulative value, and one flag letter per reading (``-`` where none was sent).  A missing
value is NaN: readings only ever hold finite numbers (the decoder refuses the rest), so NaN means "not sent".

The series cache keeps a channel's readings of one UTC day as one row (:func:`pack`, :func:`assemble`).  Numbers
are kept exactly: a column whose every value is a decimal with at most :data:`MAX_DECIMALS` digits after the point
(as loggers send them) is stored as integers ``k`` with that scale — ``k / 10**d`` gives back the very same
double, since both are exact and IEEE division rounds correctly, and :func:`pack` checks it value by value —
as 16-bit offsets from the column's smallest ``k`` when they span less than 65,535, else as 32-bit integers;
any other column as float64.  Times are 16-bit steps from the day's first reading when every step is shorter
than 18 hours, else 32-bit seconds into the day.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CACHED_KINDS",
    "COLUMNS",
    "DAY",
    "NONE64",
    "Columns",
    "assemble",
    "columns_from_rows",
    "decimal_scale",
    "pack",
    "runs",
    "unpack",
]

DAY = 86400
CACHED_KINDS = ("minute", "rtd")  # dense kinds; hours and days are few enough to read from the readings table
COLUMNS = ("value", "min", "max", "zs", "cou")
MAX_DECIMALS = 6
_FLOAT = 127  # column code: float64
_ABSENT = -1  # column code: no value in the whole column
_MISSING = 64  # added to a scaled column's code (its decimals) when some of its values are missing
_NONE32 = int(np.iinfo(np.int32).min)  # a missing value among 32-bit integers
_NONE16 = 65535  # a missing value among 16-bit offsets
_HEAD = struct.Struct(
    "<IBBxxI"
)  # readings, the form's version, time width (2: steps, 4: seconds), first time
_COLUMN = struct.Struct("<bBxxi")  # code, width (2 or 4; 8 for float64), base of 16-bit offsets
_VERSION = 2  # a change of the packed form needs a migration that empties series_cache

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(slots=True)
class Columns:
    """One channel's readings in time order; NaN where a value was not sent."""

    t: Ints
    value: Floats
    min: Floats
    max: Floats
    zs: Floats
    cou: Floats
    flag: str

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def empty(cls) -> Columns:
        nothing = np.empty(0, np.float64)
        return _make(np.empty(0, np.int64), [nothing] * len(COLUMNS), "")

    def between(self, start: int, end: int) -> Columns:
        """The readings with ``start <= t < end``."""
        i, j = np.searchsorted(self.t, [start, end])
        if i == 0 and j == len(self.t):
            return self
        return self._part(int(i), int(j))

    def _part(self, i: int, j: int) -> Columns:
        return _make(self.t[i:j], [getattr(self, c)[i:j] for c in COLUMNS], self.flag[i:j])

    def split_days(self) -> dict[int, Columns]:
        """The readings by UTC day (``t // 86400``)."""
        if not len(self.t):
            return {}
        days = self.t // DAY
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
        bounds = [0, *cuts.tolist(), len(self.t)]
        out = {}
        for i, j in itertools.pairwise(bounds):
            out[int(days[i])] = self._part(i, j)
        return out


def _make(t: Ints, cols: Sequence[Floats], flag: str) -> Columns:
    value, lo, hi, zs, cou = cols
    return Columns(t, value, lo, hi, zs, cou, flag)


def columns_from_rows(rows: Sequence[Sequence[Any]]) -> Columns:
    """Rows ``(data time, value, min, max, zs, cou, flag)`` in time order → columns."""
    if not rows:
        return Columns.empty()
    t, *values, flags = zip(*rows, strict=True)
    arrays = [np.array(v, dtype=np.float64) for v in values]  # None → NaN
    return _make(np.array(t, dtype=np.int64), arrays, "".join([(f or "-")[:1] for f in flags]))


def _decimals(x: Floats, bound: float) -> tuple[int, Floats] | None:
    """The fewest decimals ``d`` (at most :data:`MAX_DECIMALS`) with ``x == k / 10**d`` exactly for integers ``k``
    below ``bound`` in magnitude, and those ``k``; None when there is none (or a -0.0, which would lose its sign)."""
    if not len(x) or (np.signbit(x) & (x == 0)).any() or np.abs(x).max() >= bound:
        return None
    sample = x[:: max(1, len(x) // 64)]  # a first guess from a few values, then one check of them all
    first = next(
        (d for d in range(MAX_DECIMALS + 1) if np.array_equal(np.rint(sample * 10.0**d) / 10.0**d, sample)),
        None,
    )
    if first is None:
        return None
    for d in range(first, MAX_DECIMALS + 1):
        k = np.rint(x * 10.0**d)
        if np.abs(k).max() >= bound:
            return None
        if np.array_equal(k / 10.0**d, x):
            return d, k
    return None


def decimal_scale(v: Floats) -> tuple[int, Ints, bool] | None:
    """A column as exact scaled integers for JSON: ``(d, k, missing)`` with ``v[i] == k[i] / 10**d`` (exact in any
    IEEE 754 arithmetic, JavaScript's included: ``|k| < 2**53``) and ``k`` = :data:`NONE64` where ``v`` is NaN;
    ``missing`` whether there is any such.  None when the values are not all decimals of at most six places."""
    present = ~np.isnan(v)
    everything = bool(present.all())
    found = _decimals(v if everything else v[present], 2.0**53)
    if found is None:
        return None
    d, k = found
    if everything:
        return d, k.astype(np.int64), False
    out = np.full(len(v), NONE64, dtype=np.int64)
    out[present] = k
    return d, out, True


NONE64 = int(
    np.iinfo(np.int64).min
)  # no other int64's decimal text contains this one's: it can stand for null


def _pack_column(v: Floats) -> tuple[bytes, bytes]:
    """One column → its header entry and its bytes."""
    present = ~np.isnan(v)
    if not present.any():
        return _COLUMN.pack(_ABSENT, 0, 0), b""
    everything = bool(present.all())
    found = _decimals(v if everything else v[present], 2.0**31 - 1)
    if found is None:
        return _COLUMN.pack(_FLOAT, 8, 0), v.astype("<f8").tobytes()
    d, k = found
    code = d if everything else d + _MISSING
    base = int(k.min())
    if k.max() - base < _NONE16:
        out16 = np.full(len(v), _NONE16, dtype="<u2")
        out16[present] = k - base
        return _COLUMN.pack(code, 2, base), out16.tobytes()
    out32 = np.full(len(v), _NONE32, dtype="<i4")
    out32[present] = k
    return _COLUMN.pack(code, 4, 0), out32.tobytes()


def pack(c: Columns, day: int) -> bytes:
    """One channel-day → bytes: a header (count, version, times), one entry per column, the columns, the times,
    the flags (UTF-8)."""
    n = len(c.t)
    heads, blobs = [], []
    for name in COLUMNS:
        head, blob = _pack_column(getattr(c, name))
        heads.append(head)
        blobs.append(blob)
    offsets = c.t - day * DAY
    first = int(offsets[0]) if n else 0
    steps = np.diff(offsets)
    if n and steps.max(initial=0) < 65536:
        width, times = 2, steps.astype("<u2").tobytes()
    else:
        width, times = 4, offsets.astype("<i4").tobytes()
    return b"".join([_HEAD.pack(n, _VERSION, width, first), *heads, *blobs, times, c.flag.encode()])


@dataclass(slots=True)
class _Packed:
    """A packed channel-day's header, and where its parts lie."""

    day: int
    buf: memoryview
    n: int
    width: int  # of the times: 2 (steps) or 4 (seconds into the day)
    first: int
    columns: list[tuple[int, int, int, int]]  # per column: code, size, base, offset of its bytes
    times_at: int
    flags_at: int


def _parse(data: bytes | memoryview, day: int) -> _Packed:
    buf = memoryview(data)
    n, version, width, first = _HEAD.unpack_from(buf)
    if version != _VERSION:
        raise ValueError(f"series cache row of day {day}: packed form {version}, not {_VERSION}")
    at = _HEAD.size + len(COLUMNS) * _COLUMN.size
    columns = []
    for i in range(len(COLUMNS)):
        code, size, base = _COLUMN.unpack_from(buf, _HEAD.size + i * _COLUMN.size)
        columns.append((code, size, base, at))
        at += 0 if code == _ABSENT else size * n
    times_at = at
    at += 2 * (n - 1) if width == 2 else 4 * n
    return _Packed(day, buf, n, width, first, columns, times_at, at)


_ZERO = np.zeros(1, dtype="<u2")


def _decode(run: list[_Packed]) -> tuple[Ints, list[Floats], str]:
    """Consecutive packed days as one set of columns: each column and the times in a few array operations over
    the whole run, not a dozen per day."""
    sizes = np.array([p.n for p in run])
    cols: list[Floats] = []
    for c in range(len(COLUMNS)):
        heads = [p.columns[c] for p in run]
        codes = [h[0] for h in heads]
        if all(code == _ABSENT for code in codes):
            cols.append(np.full(int(sizes.sum()), np.nan))
            continue
        if any(code == _FLOAT for code in codes):  # rare (values that are no short decimals): day by day
            cols.append(np.concatenate([_column(p, h) for p, h in zip(run, heads, strict=True)]))
            continue
        pieces = []
        for p, (code, size, _, at) in zip(run, heads, strict=True):
            if code == _ABSENT:
                pieces.append(np.full(p.n, _NONE16, dtype="<u2"))
            else:
                pieces.append(np.frombuffer(p.buf, "<u2" if size == 2 else "<i4", p.n, at))
        k = np.concatenate(pieces, dtype=np.int64)
        bases = np.repeat(np.array([h[2] for h in heads], dtype=np.int64), sizes)
        scales = np.repeat(np.array([10.0 ** (max(code, 0) % _MISSING) for code in codes]), sizes)
        value = np.add(k, bases, dtype=np.float64)  # exact: integers below 2**31
        np.divide(value, scales, out=value)
        if any(code == _ABSENT or code >= _MISSING for code in codes):
            none = [
                _NONE16 if code == _ABSENT or h[1] == 2 else _NONE32
                for code, h in zip(codes, heads, strict=True)
            ]
            value[k == np.repeat(np.array(none), sizes)] = np.nan
        cols.append(value)
    # times: each day's steps after a zero, summed up over the run; then each day moved to its own first time
    steps = []
    for p in run:
        steps.append(_ZERO)
        if p.width == 2:
            steps.append(np.frombuffer(p.buf, "<u2", p.n - 1, p.times_at))
        else:
            steps.append(np.diff(np.frombuffer(p.buf, "<i4", p.n, p.times_at)))
    summed = np.cumsum(np.concatenate(steps, dtype=np.int64))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    firsts = np.array(
        [p.day * DAY + (p.first if p.width == 2 else _first_offset(p)) for p in run], dtype=np.int64
    )
    t = summed + np.repeat(firsts - summed[starts], sizes)
    flag = b"".join(p.buf[p.flags_at :] for p in run).decode()
    if len(flag) != len(t):
        raise ValueError(
            f"series cache rows of days {run[0].day}–{run[-1].day}: flags do not match the readings"
        )
    return t, cols, flag


def _column(p: _Packed, head: tuple[int, int, int, int]) -> Floats:
    """One column of one packed day."""
    code, size, base, at = head
    if code == _ABSENT:
        return np.full(p.n, np.nan)
    if code == _FLOAT:
        return np.frombuffer(p.buf, "<f8", p.n, at).astype(np.float64)
    k = np.frombuffer(p.buf, "<u2" if size == 2 else "<i4", p.n, at)
    value: Floats = np.add(k, base, dtype=np.float64)
    np.divide(value, 10.0 ** (code % _MISSING), out=value)
    if code >= _MISSING:
        value[k == (_NONE16 if size == 2 else _NONE32)] = np.nan
    return value


def _first_offset(p: _Packed) -> int:
    return int(np.frombuffer(p.buf, "<i4", 1, p.times_at)[0])


def assemble(parts: Sequence[tuple[int, bytes | memoryview | Columns]]) -> Columns:
    """Days in order — each packed (:func:`pack`) or already columns — as one :class:`Columns`; consecutive
    packed days are decoded together."""
    groups: list[Columns | list[_Packed]] = []
    for day, part in parts:
        if isinstance(part, Columns):
            if len(part):
                groups.append(part)
            continue
        p = _parse(part, day)
        if not p.n:
            continue
        if groups and isinstance(groups[-1], list):
            groups[-1].append(p)
        else:
            groups.append([p])
    done = [g if isinstance(g, Columns) else _make(*_decode(g)) for g in groups]
    if not done:
        return Columns.empty()
    if len(done) == 1:
        return done[0]
    return _make(
        np.concatenate([c.t for c in done]),
        [np.concatenate([getattr(c, name) for c in done]) for name in COLUMNS],
        "".join(c.flag for c in done),
    )


def unpack(data: bytes | memoryview, day: int) -> Columns:
    """The inverse of :func:`pack`."""
    return assemble([(day, data)])


def runs(t: Ints) -> list[list[int]]:
    """Times as runs ``[first, step, count]`` (each run: ``first + step * i`` for ``i < count``), taken greedily;
    a regular series with gaps needs one run per gap.  The inverse: concatenate ``range(first, …, step)``."""
    n = len(t)
    if n == 0:
        return []
    if n == 1:
        return [[int(t[0]), 0, 1]]
    d = np.diff(t)
    changes = (np.flatnonzero(d[1:] != d[:-1]) + 1).tolist()  # d[c] differs from d[c - 1]
    out: list[list[int]] = []
    i = 0  # the first value not yet in a run
    k = 0  # changes[k] is the first change after i
    while i < n:
        if i == n - 1:
            out.append([int(t[i]), 0, 1])
            break
        while k < len(changes) and changes[k] <= i:
            k += 1
        j = changes[k] if k < len(changes) else n - 1  # d[i:j] all equal: values i … j
        out.append([int(t[i]), int(d[i]), j - i + 1])
        i = j + 1
    return out
