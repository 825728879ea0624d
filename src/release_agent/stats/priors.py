"""The risk model's priors: what is believed before the evidence, and how firmly.

Every effect of the risk model (:mod:`.risk_model`) is a log-odds term with a Gaussian
prior. No world chose these; they say what a team knows before its first deploy:

- **The intercept**: a deploy fails about :data:`BASE_RATE` (10%) of the time, with a
  standard deviation of 1 on the log-odds, so anything from about 2% to 40% is
  plausible. Every deploy informs it, so it settles within the first few dozen.
- **The main effects** of the registry's attributes (feature risk levels, criticality
  levels, clash, weekend, Friday afternoon, out of hours, non-production; see
  :mod:`release_agent.domain.attributes`): centred on *no effect*, pooled in one group
  whose scale starts at the registry's 0.7 on the log-odds (a factor of ×2 is one
  standard deviation away, ×3 about 1.6: a real ×3 effect shows after a few dozen
  deploys of its context) and is then learned like the others: where this team's labels
  carry information the scale grows, where they do not it shrinks.
- **Pooled groups** — the services, the days, the hours, day × part of the day,
  service × feature risk and the patterns of mined heuristics: each member is centred on
  no effect with the group's scale, and the scale itself is learned from the team's
  history (empirical Bayes): after each fit it is re-estimated from the members' effects
  and their uncertainty (an EM step for a Gaussian variance), held towards the registry's
  starting scale by :data:`HYPER_WEIGHT` pseudo-members. Services that really differ
  then keep their differences; services alike are pooled towards each other; a new
  service starts from what the organisation's services have in common.

A team states its own priors in the policy file (``[priors]``): the base rate, a main
effect as a factor with its standard deviation, or a group's scale (which is then not
learned). The priors in force are shown in every decision's trace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..domain.attributes import ATTRIBUTES, INTERACTIONS, NO_EFFECT_SD, Prior
from ..domain.policy import HALF_LIFE_DAYS, PriorSettings

BASE_RATE = 0.10
INTERCEPT_SD = 1.0
PATTERN_SCALE = 0.5
PATTERN_GROUP = "pattern"
MAIN_GROUP = "main"
"""The main effects the team did not state share one learned scale: labels that carry
information in this team's history keep their effects, labels that do not are shrunk."""
HYPER_WEIGHT = 2.0
"""How many pseudo-members at the starting scale hold a learned scale back: a group of
two services cannot declare its scale zero on the strength of two estimates."""
SCALE_BOUNDS = (0.05, 3.0)


def _starting_scales() -> dict[str, float]:
    scales = {
        a.name: a.effect.sd for a in ATTRIBUTES if a.effect is not None and a.effect.form == "each"
    }
    scales.update({i.name: i.sd for i in INTERACTIONS})
    scales[PATTERN_GROUP] = PATTERN_SCALE
    scales[MAIN_GROUP] = NO_EFFECT_SD
    return scales


def _main_effects() -> dict[str, Prior]:
    out: dict[str, Prior] = {}
    for a in ATTRIBUTES:
        if a.effect is None or a.effect.form == "each":
            continue
        for name in a.effect.known(a.name, tuple(str(v) for v in a.all_values)):
            prior = a.effect.prior(a.name, name)
            if prior is not None:
                out[name] = prior
    return out


MAIN_EFFECTS: dict[str, Prior] = _main_effects()
"""The main effects a team may state a prior for, with their defaults."""
GROUPS: dict[str, float] = _starting_scales()
"""The pooled groups, with their starting scales."""


@dataclass(frozen=True)
class Priors:
    """The priors in force for one fit."""

    base_rate: float = BASE_RATE
    intercept_sd: float = INTERCEPT_SD
    effects: Mapping[str, Prior] = field(default_factory=lambda: dict(MAIN_EFFECTS))
    scales: Mapping[str, float] = field(default_factory=lambda: dict(GROUPS))
    stated: frozenset[str] = frozenset()
    """What the team's policy stated (effect names, group names, ``base_rate``)."""
    learned: frozenset[str] = frozenset()
    """The groups whose scale was learned from the evidence."""
    half_life_days: float = HALF_LIFE_DAYS
    """How fast the evidence the model was fitted on ages (memory/ageing.py)."""

    @classmethod
    def stating(
        cls,
        base_rate: float | None = None,
        effects: Mapping[str, tuple[float, float]] | None = None,
        scales: Mapping[str, float] | None = None,
    ) -> Priors:
        """The defaults with what a team stated: ``effects`` as name -> (factor, sd),
        ``scales`` as group -> sd. Raises KeyError for an unknown name."""
        stated: set[str] = set()
        merged = dict(MAIN_EFFECTS)
        for name, (factor, sd) in (effects or {}).items():
            if name not in MAIN_EFFECTS:
                raise KeyError(name)
            merged[name] = (math.log(factor), sd)
            stated.add(name)
        group_scales = dict(GROUPS)
        for name, sd in (scales or {}).items():
            if name not in GROUPS:
                raise KeyError(name)
            group_scales[name] = sd
            stated.add(name)
        if base_rate is not None:
            stated.add("base_rate")
        return cls(
            base_rate=BASE_RATE if base_rate is None else base_rate,
            effects=merged,
            scales=group_scales,
            stated=frozenset(stated),
        )

    def group(self, name: str) -> str | None:
        """The pooled group an effect belongs to, or None for the intercept and the main
        effects the team stated."""
        if name in self.effects:
            return None if name in self.stated else MAIN_GROUP
        if name.startswith("pattern:"):
            return PATTERN_GROUP
        for interaction in INTERACTIONS:
            if name.startswith(interaction.prefix) and "/" in name:
                return interaction.name
        for a in ATTRIBUTES:
            if a.effect is not None and a.effect.form == "each" and name.startswith(f"{a.name}="):
                return a.name
        return None

    def of(self, name: str) -> Prior:
        """The prior (mean, sd) of an effect. Raises KeyError for an unknown name."""
        if name == "intercept":
            return math.log(self.base_rate / (1 - self.base_rate)), self.intercept_sd
        if name in self.effects:
            if name in self.stated:
                return self.effects[name]
            return self.effects[name][0], self.scales[MAIN_GROUP]
        group = self.group(name)
        if group is not None:
            return 0.0, self.scales[group]
        raise KeyError(name)

    def learnable(self) -> list[str]:
        """The groups whose scale the evidence may set (those the team did not state)."""
        return [g for g in self.scales if g not in self.stated]

    def with_scales(self, scales: Mapping[str, float]) -> Priors:
        merged = {**self.scales, **scales}
        return replace(self, scales=merged, learned=frozenset(scales) | self.learned)

    def summary(self) -> dict[str, Any]:
        """The priors as a decision's trace shows them."""
        return {
            "base_rate": round(self.base_rate, 4),
            "intercept_sd": self.intercept_sd,
            "effects": {
                name: {"times": round(math.exp(mean), 3), "sd": round(sd, 3)}
                for name, (mean, sd) in self.effects.items()
            },
            "scales": {name: round(sd, 3) for name, sd in self.scales.items()},
            "stated": sorted(self.stated),
            "learned": sorted(self.learned),
            "half_life_days": self.half_life_days,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_rate": self.base_rate,
            "intercept_sd": self.intercept_sd,
            "effects": {k: list(v) for k, v in self.effects.items()},
            "scales": dict(self.scales),
            "stated": sorted(self.stated),
            "learned": sorted(self.learned),
            "half_life_days": self.half_life_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Priors:
        return cls(
            base_rate=float(data["base_rate"]),
            intercept_sd=float(data["intercept_sd"]),
            effects={k: (float(v[0]), float(v[1])) for k, v in data["effects"].items()},
            scales={k: float(v) for k, v in data["scales"].items()},
            stated=frozenset(data.get("stated", ())),
            learned=frozenset(data.get("learned", ())),
            half_life_days=float(data.get("half_life_days", HALF_LIFE_DAYS)),
        )


def learned_scale(
    squares: float, members: int, start: float, weight: float = HYPER_WEIGHT
) -> float:
    """The EM update of a group's scale: ``squares`` is the sum over its ``members`` of
    (effect estimate² + its posterior variance); ``weight`` pseudo-members sit at
    ``start``."""
    variance = (squares + weight * start**2) / (members + weight)
    low, high = SCALE_BOUNDS
    return min(high, max(low, math.sqrt(variance)))


def stated_in(settings: PriorSettings) -> Priors:
    """The priors a policy's ``[priors]`` table states, over the defaults."""
    priors = Priors.stating(
        settings.base_rate,
        {name: (effect.times, effect.sd) for name, effect in settings.effects.items()},
        dict(settings.scales),
    )
    return replace(priors, half_life_days=settings.half_life())
