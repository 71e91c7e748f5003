"""Detection benchmark: the check catalogue over a labelled simulated fleet with injected tampering.

Run: ``.venv/bin/python bench/detection.py [--points 30] [--days 10] [--seed 1] [--tamper-random 2]``.

1. ``envtrust simulate --out`` writes a frames log of the fleet (minute, hourly and daily data; honest calibration,
   maintenance, shutdowns, network gaps and genuine exceedances) with every tampering scenario injected into
   ``--tamper-random`` points each, the true windows in a labels file and the registry used;
2. ``envtrust check --json`` runs the whole catalogue over it, as a user would;
3. findings are matched to labels: a labelled window counts as found when a finding of the point with the expected
   category (``tampering``; ``anomaly`` or ``tampering`` for anomaly scenarios) overlaps it (± 1 h).  A tampering or
   anomaly finding that overlaps no labelled window of its point is a false alarm; false alarms are given per
   point-week.  Every true exceedance hour of the labels must be among the hours of an ``exceedance_hour`` finding,
   except the hours whose data were lost in network gaps before reaching the receiver (``hours_unreceived``:
   neither the hourly frame nor 45 minute frames arrived), which are counted apart.

Prints a table and writes ``detection.json`` into ``--out`` (default ``bench/out``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent
MARGIN = 3600


def _t(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def evaluate(
    labels: list[dict[str, Any]], findings: list[dict[str, Any]], points: int, days: float
) -> dict[str, Any]:
    by_mn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_mn[f["mn"]].append(f)
    scenarios: dict[str, dict[str, Any]] = {}
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    true_hours: set[tuple[str, str, int]] = set()
    unreceived: set[tuple[str, str, int]] = set()
    for lab in labels:
        start, end = _t(lab["start"]), _t(lab["end"])
        if lab["category"] in ("tampering", "anomaly"):
            windows[lab["mn"]].append((start - MARGIN, end + MARGIN))
            ok = ("tampering",) if lab["category"] == "tampering" else ("tampering", "anomaly")
            hit = [
                f
                for f in by_mn[lab["mn"]]
                if f["category"] in ok and _t(f["start"]) < end + MARGIN and _t(f["end"]) > start - MARGIN
            ]
            s = scenarios.setdefault(
                lab["scenario"], {"labels": 0, "found": 0, "checks": defaultdict(int), "missed": []}
            )
            s["labels"] += 1
            if hit:
                s["found"] += 1
                for f in hit:
                    s["checks"][f["check"]] += 1
            else:
                s["missed"].append(
                    {"mn": lab["mn"], "start": lab["start"], "end": lab["end"], "detail": lab.get("detail")}
                )
        elif lab["category"] == "exceedance":
            lost = set(lab.get("hours_unreceived", []))
            for h in lab.get("hours", []):
                (unreceived if h in lost else true_hours).add((lab["mn"], lab["pollutant"], _t(h)))
    false_alarms: dict[str, list[dict[str, Any]]] = {"tampering": [], "anomaly": []}
    for f in findings:
        if f["category"] not in false_alarms:
            continue
        a, b = _t(f["start"]), _t(f["end"])
        if not any(a < hi and b > lo for lo, hi in windows[f["mn"]]):
            false_alarms[f["category"]].append(f)
    found_hours = {
        (f["mn"], f["pollutant"], int(h["start"]))
        for f in findings
        if f["check"] == "exceedance_hour"
        for h in f["evidence"]["hours"]
    }
    weeks = points * days / 7.0
    return {
        "scenarios": {
            k: {**v, "recall": v["found"] / v["labels"], "checks": dict(v["checks"])}
            for k, v in sorted(scenarios.items())
        },
        "false_alarms": {k: len(v) for k, v in false_alarms.items()},
        "false_alarms_per_point_week": {k: len(v) / weeks for k, v in false_alarms.items()},
        "false_alarm_examples": {k: v[:10] for k, v in false_alarms.items()},
        "exceedance_hours": len(true_hours),
        "exceedance_hours_found": len(true_hours & found_hours),
        "exceedance_hours_missed": sorted(true_hours - found_hours)[:20],
        "exceedance_hours_unreceived": len(unreceived),
        "point_weeks": weeks,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=30)
    ap.add_argument("--days", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tamper-random", type=int, default=2)
    ap.add_argument("--start", default="2026-10-01T00:00:00")
    ap.add_argument(
        "--jobs", type=int, default=0, help="worker processes of the generation (0: one per core)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "out", help="directory of the fleet and the results")
    ap.add_argument("--reuse", action="store_true", help="reuse the fleet already generated in --out")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    log, labels_path, registry = out / "fleet.log", out / "fleet-labels.jsonl", out / "fleet-registry.toml"
    Console(stderr=True)
    envtrust = [sys.executable, "-m", "envtrust"]
    t0 = time.perf_counter()
    if not (args.reuse and log.exists()):
        subprocess.run(
            [
                *envtrust,
                "simulate",
                "--out",
                str(log),
                "--days",
                str(args.days),
                "--points",
                str(args.points),
                "--seed",
                str(args.seed),
                "--start",
                args.start,
                "--tamper-random",
                str(args.tamper_random),
                "--labels",
                str(labels_path),
                "--write-registry",
                str(registry),
                "--jobs",
                str(args.jobs),
            ],
            check=True,
        )
    t1 = time.perf_counter()
    run = subprocess.run(
        [*envtrust, "check", str(log), "--registry", str(registry), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    t2 = time.perf_counter()
    findings = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    labels = [
        json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    result = evaluate(labels, findings, args.points, args.days)
    result.update(
        generate_s=round(t1 - t0, 1),
        check_s=round(t2 - t1, 1),
        findings=len(findings),
        points=args.points,
        days=args.days,
        seed=args.seed,
        tamper_random=args.tamper_random,
    )
    (out / "detection.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    table = Table(title=f"detection over {args.points} points × {args.days:g} days (seed {args.seed})")
    for col in ("scenario", "labels", "found", "recall", "by checks"):
        table.add_column(col)
    for name, s in result["scenarios"].items():
        table.add_row(
            name,
            str(s["labels"]),
            str(s["found"]),
            f"{s['recall']:.0%}",
            ", ".join(f"{k}×{v}" for k, v in sorted(s["checks"].items())),
        )
    Console().print(table)
    fa = result["false_alarms_per_point_week"]
    Console().print(
        f"false alarms per point-week: tampering {fa['tampering']:.3f}, anomaly {fa['anomaly']:.3f} "
        f"({result['false_alarms']}); exceedance hours found {result['exceedance_hours_found']} of "
        f"{result['exceedance_hours']} (and {result['exceedance_hours_unreceived']} whose data never arrived); "
        f"generate {result['generate_s']} s, check {result['check_s']} s"
    )


if __name__ == "__main__":
    main()
