"""Writes the memory files the tests import, in the seed's memory format.

The project's own fixtures (not copies of the seed's files): ``memory.json`` in the
current form, an object of episodes and heuristics, and ``memory-old.json`` in the older
form, a bare list of episodes. The content is chosen so that each behaviour the import
tests check has something to bite on:

- aborted releases (the seed's ABORT / ABORTED), which are no evidence, and a whole day
  (SAT) on which every release was aborted, so heuristics about it have no deploys;
- a pattern (LOW risk, WED, LOW criticality) deployed more often than the file's
  heuristics claim, so their support must be recounted;
- one failed deploy (MEDIUM risk, TUE, HIGH criticality), so the base rate is not zero
  and a GO claim about that pattern is contradicted;
- heuristics repeated, in other key orders and with other confidences, so duplicates
  must collapse into one.

Run it from anywhere: ``python tests/data/make_memory.py``; it rewrites both files next
to itself, byte for byte the same each time (``tests/test_fixtures.py`` checks that the
committed files are its output).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START = datetime(2026, 3, 2, 8, 5, 17, 250_000, tzinfo=UTC)

# (feature_risk, day_of_week, service_criticality, decision, outcome, how many)
RUNS: list[tuple[str, str, str, str, str, int]] = [
    ("HIGH", "SAT", "HIGH", "ABORT", "ABORTED", 2),
    ("LOW", "WED", "LOW", "GO", "SUCCESS", 4),
    ("MEDIUM", "THU", "MEDIUM", "GO", "SUCCESS", 3),
    ("MEDIUM", "SAT", "LOW", "ABORT", "ABORTED", 1),
    ("MEDIUM", "TUE", "HIGH", "GO", "FAILURE", 1),
    ("LOW", "WED", "LOW", "GO", "SUCCESS", 5),
    ("HIGH", "SAT", "HIGH", "ABORT", "ABORTED", 2),
    ("MEDIUM", "TUE", "HIGH", "GO", "SUCCESS", 1),
]


def episodes() -> list[dict[str, Any]]:
    out = []
    moment = START
    for risk, day, criticality, decision, outcome, times in RUNS:
        for _ in range(times):
            out.append(
                {
                    "context": {
                        "feature_risk": risk,
                        "day_of_week": day,
                        "service_criticality": criticality,
                    },
                    "decision": decision,
                    "outcome": outcome,
                    "timestamp": moment.isoformat(),
                }
            )
            moment += timedelta(hours=7, minutes=13, seconds=41, microseconds=123_457)
    return out


def heuristic(
    when: dict[str, str], recommendation: str, confidence: float, support: int
) -> dict[str, Any]:
    return {
        "when": when,
        "recommendation": recommendation,
        "confidence": confidence,
        "supporting_episodes": support,
    }


WED_LOW = {"feature_risk": "LOW", "day_of_week": "WED", "service_criticality": "LOW"}
SAT_HIGH = {"feature_risk": "HIGH", "day_of_week": "SAT", "service_criticality": "HIGH"}


def heuristics() -> list[dict[str, Any]]:
    return [
        heuristic({"day_of_week": "SAT"}, "NO_GO", 0.6, 2),
        heuristic(
            {"service_criticality": "MEDIUM", "feature_risk": "MEDIUM", "day_of_week": "THU"},
            "GO",
            0.6,
            2,
        ),
        heuristic({"day_of_week": "SAT"}, "NO_GO", 0.55, 2),
        heuristic({"day_of_week": "WED"}, "GO", 0.6, 2),
        heuristic({"service_criticality": "LOW"}, "GO", 0.6, 2),
        heuristic(dict(WED_LOW), "GO", 0.9, 5),
        heuristic(dict(SAT_HIGH), "NO_GO", 0.5, 1),
        heuristic({"day_of_week": "TUE", "service_criticality": "HIGH"}, "GO", 0.7, 3),
        heuristic(dict(reversed(list(WED_LOW.items()))), "GO", 0.8, 3),
        heuristic(dict(SAT_HIGH), "NO_GO", 0.3, 1),
    ]


def older() -> list[dict[str, Any]]:
    """The older form: a bare list, timestamps with ``Z`` and no fraction of a second."""
    return [
        {
            "context": {
                "feature_risk": "MEDIUM",
                "day_of_week": "MON",
                "service_criticality": "LOW",
            },
            "decision": "GO",
            "outcome": "SUCCESS",
            "timestamp": "2026-02-16T06:30:00Z",
        }
    ]


def render(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"


FILES = {
    "memory.json": lambda: render({"episodes": episodes(), "heuristics": heuristics()}),
    "memory-old.json": lambda: render(older()),
}


def main() -> None:
    for name, make in FILES.items():
        (HERE / name).write_text(make(), encoding="utf-8")


if __name__ == "__main__":
    main()
