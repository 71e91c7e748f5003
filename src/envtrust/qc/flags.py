"""Quality flags: the QARTOD flag values, the HJ 212 data flags translated to them, and "worst flag wins".

Flags are ``uint8`` arrays with the IOOS QARTOD values (``ioos_qc``): GOOD 1, UNKNOWN 2 (not evaluated),
SUSPECT 3, FAIL 4, MISSING 9.  Precedence when several checks flag one value: MISSING < UNKNOWN < GOOD <
SUSPECT < FAIL, so a FAIL from any check wins, and MISSING only stands where nothing was evaluated.

HJ 212-2017 data flags (Table 8) translate as: ``N`` (normal) → GOOD; ``S`` (manually set value) → SUSPECT (it
needs review and may never replace measured data); ``F`` stopped, ``M`` maintenance, ``D`` fault, ``C``
calibration, ``T`` over the measuring range, ``B`` communication failure, and any other letter (``H`` of some
platforms: too few values for the average) → FAIL, i.e. invalid for averages and exceedance judgement.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAIL",
    "FLAG_NAMES",
    "GOOD",
    "HJ212_VALID",
    "MISSING",
    "SUSPECT",
    "UNKNOWN",
    "FlagArray",
    "from_hj212",
    "worst",
]

GOOD: Final = 1
UNKNOWN: Final = 2
SUSPECT: Final = 3
FAIL: Final = 4
MISSING: Final = 9
FLAG_NAMES: Final = {GOOD: "GOOD", UNKNOWN: "UNKNOWN", SUSPECT: "SUSPECT", FAIL: "FAIL", MISSING: "MISSING"}

FlagArray = npt.NDArray[np.uint8]

# rank of each flag value in the precedence order (index = flag value)
_RANK = np.zeros(256, dtype=np.uint8)
_RANK[MISSING], _RANK[UNKNOWN], _RANK[GOOD], _RANK[SUSPECT], _RANK[FAIL] = 0, 1, 2, 3, 4
_BY_RANK = np.array([MISSING, UNKNOWN, GOOD, SUSPECT, FAIL], dtype=np.uint8)

HJ212_VALID: Final = frozenset("N")
_HJ212: Final = {"N": GOOD, "S": SUSPECT}


def worst(*flags: FlagArray) -> FlagArray:
    """Elementwise worst of same-shape flag arrays (MISSING < UNKNOWN < GOOD < SUSPECT < FAIL)."""
    if not flags:
        raise ValueError("worst() needs at least one flag array")
    rank = _RANK[flags[0]]
    for f in flags[1:]:
        rank = np.maximum(rank, _RANK[f])
    out: FlagArray = _BY_RANK[rank]
    return out


def from_hj212(letters: npt.NDArray[np.str_]) -> FlagArray:
    """HJ 212 data-flag letters → flags; an empty string (no flag sent) counts as ``N``."""
    out = np.full(letters.shape, FAIL, dtype=np.uint8)
    out[(letters == "N") | (letters == "")] = GOOD
    out[letters == "S"] = SUSPECT
    return out
