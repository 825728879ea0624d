"""Keeping the fitted risk model fresh without refitting on every decision."""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.models import Decision
from ..memory.store import Store
from ..stats.cells import Cell
from ..stats.evidence import counted
from ..stats.risk_model import RiskModel


def fit(
    store: Store, warm: RiskModel | None = None, cells: Iterable[Cell] | None = None
) -> RiskModel:
    """Fit the model to every recorded outcome and store it. ``cells`` are those outcomes
    already grouped (learning has read them), to spare a second scan. The conditions of active
    cautionary heuristics judged by their evidence enter the model as effects of their own."""
    seen = store.count_outcomes()
    if cells is None:
        cells = store.outcome_cells().risk_cells()
    # Exactly the heuristics the planner treats as "priced in" (evidence.counted).
    patterns = [
        h.when
        for h in store.active_heuristics()
        if counted(h) and h.recommendation is not Decision.GO
    ]
    model = RiskModel.fit(cells, warm=warm, patterns=patterns)
    store.save_risk_model(model.to_json(), seen)
    return model


def current(store: Store, refit_after: int, cached: RiskModel | None = None) -> RiskModel:
    """The model to decide with: the stored one, refitted first when ``refit_after`` or
    more outcomes have been recorded since it was fitted (or when there is none).
    ``cached`` is reused when it is the stored model, to skip reading it again."""
    seen = store.count_outcomes()
    fitted_with = store.risk_model_outcomes()
    if fitted_with is None:
        return fit(store, warm=cached) if seen else (cached or RiskModel.prior())
    if seen - fitted_with >= refit_after or seen < fitted_with:
        return fit(store, warm=cached)
    if cached is not None and cached.evidence == fitted_with:
        return cached
    stored = store.load_risk_model()
    assert stored is not None
    return RiskModel.from_json(stored[0])
