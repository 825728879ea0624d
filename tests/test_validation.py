"""Validation: the seed's rules, the recount, contradictions and near-duplicates."""

from __future__ import annotations

import pytest

from release_agent.domain.models import Decision, Provenance
from release_agent.stats.evidence import Baseline
from release_agent.stats.validation import canonical_when, merge_key, validate

BASE = Baseline.of(1000, 50)


def rejection(**overrides: object) -> str | None:
    candidate: dict[str, object] = {
        "when": {"day_of_week": "FRI"},
        "recommendation": "DELAY",
        "confidence": 0.9,
        "support": 10,
        "provenance": Provenance.llm,
        "recount": (20, 10),
        "baseline": BASE,
    }
    candidate.update(overrides)
    verdict = validate(**candidate)  # type: ignore[arg-type]
    assert verdict.accepted is (verdict.rejection is None)
    return verdict.rejection


def test_a_supported_candidate_is_accepted_with_the_recounted_evidence() -> None:
    verdict = validate({"day_of_week": "fri"}, "delay", 0.7, 10, Provenance.llm, (20, 10), BASE)
    h = verdict.heuristic
    assert h is not None
    assert h.when == {"day_of_week": "FRI"}
    assert h.recommendation is Decision.DELAY
    assert (h.support, h.failures, h.successes) == (20, 10, 10)
    # Judged by its evidence: the posterior, not the claimed 0.7 (capped at 0.99).
    assert h.confidence == 0.99
    assert h.reason == (
        "10 of 20 matching deploys failed (50.0%), above the base rate 5.1% = "
        "(50 + 1)/(1000 + 2); confidence 0.99"
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"when": {"moon_phase": "full"}}, "not a known attribute"),
        ({"when": {"feature_risk": "EXTREME"}}, "not a valid value"),
        ({"when": {"hour_of_day": 24}}, "not an hour"),
        ({"when": {"hour_of_day": {"from": 22, "to": 30}}}, "not an hour"),
        ({"when": {"clash": "yes"}}, "not a boolean"),
        ({"when": {}}, "at least one attribute"),
        ({"recommendation": "MAYBE"}, "not a decision"),
        ({"confidence": 1.5}, "outside [0, 1]"),
        ({"confidence": "high"}, "a number"),
        ({"support": 0}, "at least 1"),
        ({"support": 2, "confidence": 0.9}, "above 0.6 with support 2"),
        ({"support": 25}, "claims support 25 but memory shows 20"),
        ({"support": 2, "confidence": 0.9, "provenance": Provenance.mined}, "support 2"),
        ({"recount": (2, 2), "support": 2, "confidence": 0.6}, None),
        ({"recount": (2, 2), "support": 1, "confidence": 0.7}, "above 0.6"),
    ],
)
def test_the_seed_rules_and_the_recount(overrides: dict[str, object], fragment: str | None) -> None:
    found = rejection(**overrides)
    if fragment is None:
        assert found is None
    else:
        assert found is not None and fragment in found


def test_a_cautionary_claim_at_or_below_the_base_rate_is_contradicted() -> None:
    reason = rejection(recount=(100, 5))
    assert reason == (
        "memory contradicts DELAY: 5 of 100 matching deploys failed (5.0%), below the base "
        "rate 5.1% = (50 + 1)/(1000 + 2)"
    )
    assert rejection(recount=(100, 3), recommendation="NO_GO") is not None
    assert rejection(recount=(100, 6)) is None


def test_a_go_claim_above_the_ordinary_rate_is_contradicted() -> None:
    reason = rejection(recommendation="GO", recount=(100, 12), confidence=0.6)
    assert reason is not None and "12 of 100 matching deploys failed (12.0%), above the " in reason
    assert "the ordinary rate 5.1% = (50 + 1)/(1000 + 2)" in reason
    assert rejection(recommendation="GO", recount=(100, 1), confidence=0.6) is None


def test_without_a_baseline_the_claimed_confidence_stands() -> None:
    verdict = validate({"clash": True}, "NO_GO", 0.7, 5, Provenance.llm, recount=(8, 1))
    assert verdict.heuristic is not None
    assert verdict.heuristic.confidence == 0.7
    assert verdict.heuristic.support == 8


def test_an_imported_claim_is_recounted_not_compared() -> None:
    # The seed counted its own decisions; memory shows more (or fewer) deploys.
    verdict = validate({"day_of_week": "MON"}, "GO", 0.9, 4, Provenance.imported, (2, 0))
    assert verdict.heuristic is not None
    assert verdict.heuristic.support == 2
    assert verdict.heuristic.confidence == 0.6  # capped: fewer than 3 deploys
    nothing = validate({"day_of_week": "FRI"}, "NO_GO", 0.6, 2, Provenance.imported, (0, 0))
    assert nothing.heuristic is None
    assert nothing.rejection is not None and "no deployed release" in nothing.rejection


def test_a_human_rule_needs_no_deploys_yet() -> None:
    verdict = validate(
        {"service": "payments"}, "NO_GO", 0.9, 5, Provenance.human, recount=(0, 0), baseline=BASE
    )
    assert verdict.heuristic is not None
    assert (verdict.heuristic.support, verdict.heuristic.confidence) == (0, 0.6)


def test_near_duplicates_share_a_merge_key() -> None:
    forms = [
        {"day_of_week": "FRI", "service": "payments"},
        {"service": "payments", "day_of_week": "fri"},
        {"service": ["payments"], "day_of_week": ["FRI", "FRI"]},
    ]
    keys = {merge_key(canonical_when(w), Decision.DELAY) for w in forms}
    assert len(keys) == 1
    # DELAY and NO_GO are the same claim about a pattern; GO is the opposite one.
    assert merge_key(canonical_when(forms[0]), Decision.NO_GO) in keys
    assert merge_key(canonical_when(forms[0]), Decision.GO) not in keys
    assert canonical_when({"hour_of_day": {"from": 9, "to": 9}}) == {"hour_of_day": 9}
    assert canonical_when({"hour_of_day": {"from": 22, "to": 5}}) == {
        "hour_of_day": {"from": 22, "to": 5}
    }
