"""QC benchmark: envtrust's generic QARTOD-style checks (``envtrust.qc.basic``) against IOOS ``ioos_qc`` 3.0.0.

Run: ``make bench-qc`` or ``.venv-bench/bin/python bench/qc.py [--sizes 100000,1000000,10000000] [--quick]``.

``ioos_qc`` is a benchmark-only dependency: it lives in ``.venv-bench`` (``make bench-qc`` builds it), never in
the project's own environment.

* data: a 1-minute series of a CEMS-like concentration (daily and weekly variation, a slow random walk, noise,
  rounded to 0.01), with stuck-sensor flat stretches, spikes, isolated NaNs and NaN runs, and time gaps of 2 min
  to 5 h; for the time-gap check a few timestamps are also missing (NaN seconds / NaT);
* the same data and parameters go to both libraries in the same run: envtrust gets epoch seconds (``int64``,
  ``float64`` with NaN for the time-gap check), ``ioos_qc`` gets ``datetime64[s]`` (NaT for missing), the
  natural input of each; conversions are done before timing;
* each check is timed best of 3 with ``time.perf_counter`` (best of 2 at 10^7 points); the speed-up is
  ioos_qc time / envtrust time; flags are compared with ``np.array_equal`` (ioos_qc's masked arrays by their
  data).

Prints a table and writes ``bench/out/qc.json``.  Numbers on a noisy 2-core machine vary by ±20 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:
    from ioos_qc import qartod
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit(
        "bench/qc.py needs ioos_qc 3.0.0, which is not a project dependency and is not installed here.\n"
        "Run `make bench-qc` (it builds .venv-bench with `pip install -e . ioos_qc==3.0.0`)."
    )

from rich.console import Console
from rich.table import Table

from envtrust.qc import basic

ROOT = Path(__file__).resolve().parent
T0 = 1767225600  # 2026-01-01T00:00Z
DAY = 86400.0

# parameters (CEMS concentration in mg/m³, 1-minute values)
GROSS_FAIL = (0.0, 100.0)
GROSS_SUSPECT = (5.0, 80.0)
FLAT_SUSPECT_S = 600  # 10 minutes without change
FLAT_FAIL_S = 1800  # 30 minutes
FLAT_TOLERANCE = 0.01
SPIKE_SUSPECT = 3.0
SPIKE_FAIL = 10.0
ROC_SUSPECT = 3.0 / 60  # units per second
ROC_FAIL = 10.0 / 60
GAP_FAIL_S = 3600.0  # 1 hour (ioos_qc takes hours)


def make_data(n: int, seed: int = 212) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    step = np.full(n, 60, dtype=np.int64)
    step[0] = 0
    gaps = rng.choice(n - 1, size=max(1, n // 5000), replace=False) + 1
    step[gaps] = 60 * rng.integers(2, 300, size=gaps.size)  # 2 min to 5 h
    times = T0 + np.cumsum(step)
    tf = times.astype(np.float64)
    walk = np.cumsum(rng.normal(0.0, 0.02, n))
    walk -= np.linspace(0.0, walk[-1], n)  # keep it from drifting away
    values = (
        35.0
        + 10.0 * np.sin(2 * np.pi * tf / DAY)
        + 4.0 * np.sin(2 * np.pi * tf / (7 * DAY))
        + walk
        + rng.normal(0.0, 0.4, n)
    )
    values = np.round(values, 2)
    # stuck sensor: flat stretches of 5-90 minutes, about one per 2,000 values
    for s in rng.choice(n - 100, size=max(1, n // 2000), replace=False):
        values[s : s + int(rng.integers(5, 90))] = values[s]
    # spikes: 0.1 % of values, ±5 to ±60
    idx = rng.choice(n, size=max(1, n // 1000), replace=False)
    values[idx] += np.round(rng.choice([-1.0, 1.0], idx.size) * rng.uniform(5.0, 60.0, idx.size), 2)
    # missing: 0.3 % isolated, plus runs of 2-40 values
    values[rng.choice(n, size=max(1, 3 * n // 1000), replace=False)] = np.nan
    for s in rng.choice(n - 50, size=max(1, n // 10000), replace=False):
        values[s : s + int(rng.integers(2, 40))] = np.nan
    # timestamps missing for the time-gap check only
    tgap = tf.copy()
    tgap[rng.choice(np.arange(1, n), size=max(1, n // 20000), replace=False)] = np.nan
    dgap = times.astype("datetime64[s]")
    dgap[np.isnan(tgap)] = np.datetime64("NaT")
    return {
        "times": times,
        "dtimes": times.astype("datetime64[s]"),
        "values": values,
        "gap_times": tgap,
        "gap_dtimes": dgap,
    }


def checks(d: dict[str, np.ndarray]) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """check name → (envtrust call, ioos_qc call) on the same data and parameters."""
    v, t, dt = d["values"], d["times"], d["dtimes"]
    return {
        "gross_range": (
            lambda: basic.gross_range(v, GROSS_FAIL, GROSS_SUSPECT),
            lambda: qartod.gross_range_test(v, GROSS_FAIL, GROSS_SUSPECT),
        ),
        "flat_line": (
            lambda: basic.flat_line(t, v, FLAT_SUSPECT_S, FLAT_FAIL_S, FLAT_TOLERANCE),
            lambda: qartod.flat_line_test(v, dt, FLAT_SUSPECT_S, FLAT_FAIL_S, FLAT_TOLERANCE),
        ),
        "spike": (
            lambda: basic.spike(v, SPIKE_SUSPECT, SPIKE_FAIL),
            lambda: qartod.spike_test(v, SPIKE_SUSPECT, SPIKE_FAIL, method="average"),
        ),
        "rate_of_change": (
            lambda: basic.rate_of_change(t, v, ROC_SUSPECT, ROC_FAIL),
            lambda: qartod.rate_of_change_test(v, dt, ROC_SUSPECT, ROC_FAIL),
        ),
        "time_gap": (
            lambda: basic.time_gap(d["gap_times"], GAP_FAIL_S),
            lambda: qartod.time_gap_test(d["gap_dtimes"], GAP_FAIL_S / 3600),
        ),
    }


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        out = None  # free the previous result before the next run
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def as_flags(out: Any) -> tuple[np.ndarray, int]:
    """Flag data of a result (masked arrays by their data) and the number of masked flags."""
    masked = int(np.ma.count_masked(out)) if np.ma.isMaskedArray(out) else 0
    return np.asarray(np.ma.getdata(out)), masked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated numbers of points")
    ap.add_argument("--quick", action="store_true", help="10^5 points only")
    ap.add_argument("--checks", default=None, help="comma-separated subset of the checks")
    args = ap.parse_args()
    sizes = [100_000] if args.quick else [int(float(s)) for s in args.sizes.split(",")]
    console = Console(width=None if sys.stdout.isatty() else 120)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "numpy": np.__version__},
        "ioos_qc": getattr(sys.modules["ioos_qc"], "__version__", "?"),
        "parameters": {
            "gross_range": {"fail_span": GROSS_FAIL, "suspect_span": GROSS_SUSPECT},
            "flat_line": {"suspect_s": FLAT_SUSPECT_S, "fail_s": FLAT_FAIL_S, "tolerance": FLAT_TOLERANCE},
            "spike": {"suspect": SPIKE_SUSPECT, "fail": SPIKE_FAIL, "method": "average"},
            "rate_of_change": {"suspect_per_s": ROC_SUSPECT, "fail_per_s": ROC_FAIL},
            "time_gap": {"fail_span_s": GAP_FAIL_S},
        },
        "runs": [],
    }
    table = Table(title=f"envtrust.qc.basic vs ioos_qc {results['ioos_qc']}")
    for col in ("check", "points", "envtrust ms", "ioos_qc ms", "speed-up", "flags identical", "differ"):
        table.add_column(col, justify="left" if col == "check" else "right")
    for n in sizes:
        data = make_data(n)
        repeats = 3 if n < 10_000_000 else 2
        for name, (ours, theirs) in checks(data).items():
            if args.checks and name not in args.checks.split(","):
                continue
            t_ours, f_ours = best_of(ours, repeats)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_theirs, out = best_of(theirs, repeats)
            f_theirs, masked = as_flags(out)
            same = bool(np.array_equal(np.asarray(f_ours), f_theirs))
            differ = int(np.count_nonzero(np.asarray(f_ours) != f_theirs)) if not same else 0
            run = {
                "check": name,
                "points": n,
                "repeats": repeats,
                "envtrust_s": t_ours,
                "ioos_qc_s": t_theirs,
                "speed_up": t_theirs / t_ours,
                "identical": same,
                "differing_flags": differ,
                "ioos_masked_flags": masked,
                "flag_counts": {
                    int(k): int(c) for k, c in zip(*np.unique(f_ours, return_counts=True), strict=True)
                },
            }
            results["runs"].append(run)
            table.add_row(
                name,
                f"{n:,}",
                f"{t_ours * 1e3:,.1f}",
                f"{t_theirs * 1e3:,.1f}",
                f"{run['speed_up']:,.1f}×",
                "yes" if same else "[red]no[/red]",
                f"{differ:,}",
            )
            print(
                f"{name:>14} {n:>11,}: envtrust {t_ours * 1e3:9.1f} ms, ioos_qc {t_theirs * 1e3:9.1f} ms, "
                f"{run['speed_up']:6.1f}×, identical={same}",
                flush=True,
            )
            del out, f_ours, f_theirs
        del data
    console.print(table)
    out_dir = ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "qc.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
