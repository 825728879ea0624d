"""Cells: deployed episodes with an outcome, grouped by every context attribute.

The number of cells is bounded by the attribute domain, not by the number of episodes,
so everything computed from them — counts of every pattern, recounts of heuristics, the
risk model's fit — costs the same for a thousand episodes as for a million. The store
produces them with one aggregate query; everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domain.conditions import BOOL_ATTRIBUTES, HOUR_ATTRIBUTE, KNOWN_ATTRIBUTES

CELL_ATTRIBUTES: tuple[str, ...] = KNOWN_ATTRIBUTES
"""The attributes a cell is grouped by, in order."""


@dataclass(frozen=True)
class Cell:
    """Deploys that share one context, and how many of them failed; ``weight`` and
    ``weighted_failures`` are the same counted with older deploys weighing less (see
    :mod:`release_agent.memory.cells`), or the counts themselves when evidence does not
    age."""

    attributes: Mapping[str, Any]
    deployed: int
    failures: int
    weight: float | None = None
    weighted_failures: float | None = None

    @property
    def evidence(self) -> tuple[float, float]:
        """(deploys, failures) as the risk model weighs them."""
        if self.weight is None or self.weighted_failures is None:
            return float(self.deployed), float(self.failures)
        return self.weight, self.weighted_failures


class Cells:
    """Deployed episodes with an outcome, grouped by every context attribute.

    Each attribute is held as integer codes into its list of distinct values (-1 for a
    missing value, which no condition matches — as in SQL and in
    :func:`release_agent.domain.conditions.matches`); ``hour_of_day`` codes are the hours.
    """

    def __init__(
        self,
        values: Mapping[str, Sequence[Any]],
        codes: Mapping[str, np.ndarray],
        deployed: np.ndarray,
        failures: np.ndarray,
        weights: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.values = {name: list(v) for name, v in values.items()}
        self.codes = dict(codes)
        self.deployed = deployed.astype(np.int64)
        self.failures = failures.astype(np.int64)
        self.weights = weights
        """(deploys, failures) per cell with older deploys weighing less, if known."""
        self._index = {
            name: {value: i for i, value in enumerate(v)} for name, v in self.values.items()
        }

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> Cells:
        """Cells from rows of (*CELL_ATTRIBUTES values, deployed, failures), optionally
        followed by (weight, weighted failures)."""
        rows = list(rows)
        values: dict[str, list[Any]] = {}
        codes: dict[str, np.ndarray] = {}
        for i, name in enumerate(CELL_ATTRIBUTES):
            column = [_plain(name, row[i]) for row in rows]
            if name == HOUR_ATTRIBUTE:
                values[name] = list(range(24))
                codes[name] = np.array([-1 if v is None else int(v) for v in column], np.int64)
                continue
            index: dict[Any, int] = {}
            out = np.empty(len(column), dtype=np.int64)
            for r, value in enumerate(column):
                out[r] = -1 if value is None else index.setdefault(value, len(index))
            values[name] = list(index)
            codes[name] = out
        width = len(CELL_ATTRIBUTES)
        deployed = np.array([int(row[width]) for row in rows], dtype=np.int64)
        failures = np.array([int(row[width + 1] or 0) for row in rows], dtype=np.int64)
        weights = None
        if rows and len(rows[0]) > width + 2:
            weights = (
                np.array([float(row[width + 2] or 0.0) for row in rows]),
                np.array([float(row[width + 3] or 0.0) for row in rows]),
            )
        return cls(values, codes, deployed, failures, weights)

    def __len__(self) -> int:
        return len(self.deployed)

    @property
    def totals(self) -> tuple[int, int]:
        """(deployed, failures) over every cell."""
        return int(self.deployed.sum()), int(self.failures.sum())

    def _code(self, name: str, value: Any) -> int | None:
        if name == HOUR_ATTRIBUTE:
            return value if isinstance(value, int) and 0 <= value <= 23 else None
        return self._index.get(name, {}).get(value)

    def mask(self, when: Mapping[str, Any]) -> np.ndarray:
        """Which cells match ``when`` (same semantics as conditions.matches)."""
        mask = np.ones(len(self), dtype=bool)
        for name, expected in when.items():
            codes = self.codes.get(name)
            if codes is None:
                return np.zeros(len(self), dtype=bool)
            if isinstance(expected, Mapping):
                low, high = int(expected["from"]), int(expected["to"])
                hours = range(low, high + 1) if low <= high else [*range(low, 24), *range(high + 1)]
                wanted = [int(h) for h in hours]
            elif isinstance(expected, list):
                wanted = [c for c in (self._code(name, v) for v in expected) if c is not None]
            else:
                code = self._code(name, expected)
                wanted = [] if code is None else [code]
            mask &= np.isin(codes, wanted)
        return mask

    def count(self, when: Mapping[str, Any], within: np.ndarray | None = None) -> tuple[int, int]:
        """(deployed, failures) of the cells matching ``when`` (and ``within``)."""
        mask = self.mask(when)
        if within is not None:
            mask &= within
        return int(self.deployed[mask].sum()), int(self.failures[mask].sum())

    def attributes(self, index: int) -> dict[str, Any]:
        out = {}
        for name in CELL_ATTRIBUTES:
            code = int(self.codes[name][index])
            out[name] = None if code < 0 else self.values[name][code]
        return out

    def risk_cells(self) -> list[Cell]:
        """The cells in the form the risk model is fitted on."""
        if self.weights is None:
            return [
                Cell(self.attributes(i), int(self.deployed[i]), int(self.failures[i]))
                for i in range(len(self))
            ]
        weight, weighted_failures = self.weights
        return [
            Cell(
                self.attributes(i),
                int(self.deployed[i]),
                int(self.failures[i]),
                float(weight[i]),
                float(weighted_failures[i]),
            )
            for i in range(len(self))
        ]


def _plain(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in BOOL_ATTRIBUTES:
        return bool(value)
    return value
