"""A heuristic's confidence has one meaning (``release_agent.stats.evidence``): the
posterior probability of its claim about its deploys' failure rate, from its own counts
under a Beta prior centred on the reference rate. These tests hold the formula to what
it promises and the lifecycle to what the numbers say."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from release_agent.domain.models import Decision, Heuristic, HeuristicStatus, Provenance
from release_agent.stats import evidence
from release_agent.stats.evidence import Baseline, against, confidence, confidence_text
from release_agent.stats.lifecycle import RETIRE_BELOW, Change, recheck

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CAUTIONARY = (Decision.DELAY, Decision.NO_GO)

counts = st.integers(0, 400)
decisions = st.sampled_from(list(Decision))


@st.composite
def baselines(draw: st.DrawFn) -> Baseline:
    deployed = draw(st.integers(0, 5000))
    failures = draw(st.integers(0, deployed))
    ordinary = draw(st.integers(0, deployed))
    ordinary_failures = draw(st.integers(0, min(ordinary, failures)))
    return Baseline(deployed, failures, ordinary, ordinary_failures)


@st.composite
def evidence_counts(draw: st.DrawFn) -> tuple[int, int]:
    deployed = draw(counts)
    return deployed, draw(st.integers(0, deployed))


# -- the formula ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(base=baselines(), found=evidence_counts(), recommendation=decisions)
def test_the_number_is_what_the_documented_formula_gives(
    base: Baseline, found: tuple[int, int], recommendation: Decision
) -> None:
    deployed, failures = found
    r = base.reference(recommendation)
    a, b = 2 * r + failures, 2 * (1 - r) + deployed - failures
    if recommendation is Decision.GO:
        p = scipy_stats.beta.cdf(r, a, b)
    else:
        p = scipy_stats.beta.sf(r, a, b)
    if deployed < 3:
        p = min(p, 0.6)
    expected = math.floor(min(p, 0.99) * 100 + 1e-9) / 100
    assert confidence(recommendation, deployed, failures, base) == pytest.approx(
        expected, abs=0.011
    )
    got = confidence(recommendation, deployed, failures, base)
    assert got == round(got, 2)  # kept as shown: two decimals


@settings(max_examples=300, deadline=None)
@given(base=baselines(), found=evidence_counts(), more=st.integers(1, 50))
def test_more_successes_never_lower_a_go(base: Baseline, found: tuple[int, int], more: int) -> None:
    deployed, failures = found
    assert confidence(Decision.GO, deployed + more, failures, base) >= confidence(
        Decision.GO, deployed, failures, base
    )


@settings(max_examples=300, deadline=None)
@given(
    base=baselines(),
    found=evidence_counts(),
    more=st.integers(1, 50),
    recommendation=st.sampled_from(CAUTIONARY),
)
def test_more_failures_never_lower_a_caution_and_more_successes_never_raise_it(
    base: Baseline, found: tuple[int, int], more: int, recommendation: Decision
) -> None:
    deployed, failures = found
    now = confidence(recommendation, deployed, failures, base)
    assert confidence(recommendation, deployed + more, failures + more, base) >= now
    if deployed >= 3:  # under 3 deploys the seed's cap of 0.6 holds any claim down
        assert confidence(recommendation, deployed + more, failures, base) <= now


@settings(max_examples=300, deadline=None)
@given(base=baselines(), deployed=st.integers(1, 400))
def test_a_go_that_never_failed_is_at_least_even(base: Baseline, deployed: int) -> None:
    assert confidence(Decision.GO, deployed, 0, base) >= 0.5
    assert not against(Decision.GO, deployed, 0, base)


@settings(max_examples=300, deadline=None)
@given(base=baselines(), found=evidence_counts())
def test_a_go_under_even_odds_has_failed_more_often_than_the_reference(
    base: Baseline, found: tuple[int, int]
) -> None:
    """Where deploys fail less often than not (a reference rate up to one half: every
    real release process), a GO under even odds has failed at least as often as the
    reference. Above one half the Beta posterior's skew breaks this, so it is not
    claimed there."""
    deployed, failures = found
    assume(base.ordinary_rate <= 0.5)
    if deployed and confidence(Decision.GO, deployed, failures, base) < 0.5:
        assert failures / deployed >= base.ordinary_rate


def test_the_issues_examples_rank_by_their_evidence() -> None:
    # All 11 deploys succeeded: the reference is (0 + 1)/(11 + 2), not zero.
    base = Baseline.of(11, 0)
    four, eight, twelve = (confidence(Decision.GO, n, 0, base) for n in (4, 8, 12))
    assert 0.5 < four <= eight <= twelve
    assert (four, eight, twelve) == (0.89, 0.94, 0.96)
    # 8 of 8 is no evidence against GO: never retired.
    h = Heuristic(when={"day_of_week": "MON"}, recommendation=Decision.GO, confidence=0.9)
    assert recheck(h, 8, 0, base, NOW).change is not Change.retired


def test_a_reference_is_never_shown_as_zero() -> None:
    text = Baseline.of(40, 0).describe(Decision.NO_GO)
    assert text == "the base rate 2.4% = (0 + 1)/(40 + 2)"


# -- the lifecycle ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    base=baselines(),
    found=evidence_counts(),
    recommendation=decisions,
    provenance=st.sampled_from(list(Provenance)),
    stored=st.floats(0, 1),
)
def test_a_retired_heuristic_has_evidence_against_it_and_says_so(
    base: Baseline,
    found: tuple[int, int],
    recommendation: Decision,
    provenance: Provenance,
    stored: float,
) -> None:
    deployed, failures = found
    h = Heuristic(
        id=1,
        when={"service": "payments"},
        recommendation=recommendation,
        confidence=stored,
        provenance=provenance,
    )
    checked = recheck(h, deployed, failures, base, NOW)
    after = checked.heuristic
    if checked.change is Change.retired:
        rate = failures / deployed
        reference = base.reference(recommendation)
        assert rate > reference if recommendation is Decision.GO else rate <= reference
        assert after.confidence < RETIRE_BELOW
        assert after.reason is not None
        assert f"{failures} of {deployed} matching deploys failed" in after.reason
        assert f"confidence {after.confidence:.2f}" in after.reason
        assert base.describe(recommendation) in after.reason
    if not evidence.stated(provenance, deployed):
        assert after.confidence == confidence(recommendation, deployed, failures, base)
        assert after.reason is not None and f"confidence {after.confidence:.2f}" in after.reason


def test_a_retired_heuristic_keeps_the_day_it_was_retired() -> None:
    base = Baseline.of(1000, 50)
    h = Heuristic(id=3, when={"clash": True}, recommendation=Decision.NO_GO, confidence=0.9)
    retired = recheck(h, 200, 2, base, NOW).heuristic
    assert retired.status is HeuristicStatus.retired
    assert retired.reason is not None and retired.reason.startswith("retired 2026-12-02: ")
    later = recheck(retired, 210, 2, base, datetime(2026, 12, 9, tzinfo=UTC)).heuristic
    assert later.status is HeuristicStatus.retired
    assert later.reason is not None
    assert later.reason.startswith("retired 2026-12-02; checked 2026-12-09: 2 of 210 matching")


# -- the text every view shows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("heuristic", "text"),
    [
        (
            Heuristic(when={}, recommendation=Decision.GO, confidence=0.94, support=8, successes=8),
            "0.94 (8 of 8 deploys succeeded)",
        ),
        (
            Heuristic(
                when={},
                recommendation=Decision.NO_GO,
                confidence=0.97,
                support=20,
                failures=5,
                successes=15,
            ),
            "0.97 (5 of 20 deploys failed)",
        ),
        (
            Heuristic(
                when={}, recommendation=Decision.DELAY, confidence=0.6, provenance=Provenance.human
            ),
            "0.60 as stated by a person (no deploys yet)",
        ),
        (
            Heuristic(
                when={},
                recommendation=Decision.GO,
                confidence=0.9,
                status=HeuristicStatus.rejected,
            ),
            "0.90 as claimed",
        ),
    ],
)
def test_the_confidence_text(heuristic: Heuristic, text: str) -> None:
    assert confidence_text(heuristic) == text
