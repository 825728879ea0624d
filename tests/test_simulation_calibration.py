"""Calibration: stated failure probabilities against what happened."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.simulation.calibration import calibration


def test_a_calibrated_forecaster_lies_on_the_diagonal() -> None:
    rng = np.random.default_rng(3)
    true = rng.uniform(0.0, 0.5, 20_000)
    failed = rng.random(20_000) < true
    result = calibration(true.copy(), failed, true)
    assert result is not None and len(result.bins) == 10
    for b in result.bins:
        assert b.observed == pytest.approx(b.stated, abs=0.03)
        assert b.true == pytest.approx(b.stated)
    assert result.brier == pytest.approx(result.brier_of_truth)


def test_an_overconfident_forecaster_is_found_out() -> None:
    rng = np.random.default_rng(4)
    true = rng.uniform(0.0, 0.5, 20_000)
    failed = rng.random(20_000) < true
    result = calibration(true / 4, failed, true)
    assert result is not None
    assert all(b.observed > 3 * b.stated for b in result.bins[1:])
    assert result.brier > result.brier_of_truth + 0.005


def test_releases_without_a_stated_risk_are_left_out() -> None:
    stated = np.array([0.2, np.nan, 0.4, np.nan])
    failed = np.array([True, True, False, False])
    true = np.array([0.1, 0.9, 0.3, np.nan])
    result = calibration(stated, failed, true)
    assert result is not None and result.deploys == 2
    assert result.brier == pytest.approx(((0.2 - 1) ** 2 + 0.4**2) / 2)
    assert result.brier_of_truth == pytest.approx(((0.1 - 1) ** 2 + 0.3**2) / 2)
    assert [b.deploys for b in result.bins] == [1, 1]
    deciles = result.to_dict()["deciles"]
    assert isinstance(deciles, list)
    assert deciles[0] == {
        "stated": 0.2,
        "observed": 1.0,
        "true": 0.1,
        "deploys": 1,
    }


def test_nothing_stated_is_none_and_misaligned_arrays_are_refused() -> None:
    nothing = np.full(3, np.nan)
    assert calibration(nothing, np.zeros(3, dtype=bool), nothing) is None
    with pytest.raises(ValueError):
        calibration(np.zeros(3), np.zeros(2, dtype=bool), np.zeros(3))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 1.0), st.booleans(), st.floats(0.0, 1.0)),
        min_size=1,
        max_size=60,
    )
)
def test_deciles_partition_the_deploys_in_order_of_stated_risk(
    rows: list[tuple[float, bool, float]],
) -> None:
    stated, failed, true = (np.array(column) for column in zip(*rows, strict=True))
    result = calibration(stated, failed.astype(bool), true)
    assert result is not None
    assert sum(b.deploys for b in result.bins) == len(rows)
    assert len(result.bins) == min(10, len(rows))
    sizes = [b.deploys for b in result.bins]
    assert max(sizes) - min(sizes) <= 1
    means = [b.stated for b in result.bins]
    assert means == sorted(means) or np.allclose(means, sorted(means))
    assert 0.0 <= result.brier <= 1.0 and 0.0 <= result.brier_of_truth <= 1.0
    assert all(0.0 <= b.observed <= 1.0 for b in result.bins)
