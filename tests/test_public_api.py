"""The package's public surface: a curated __all__ that works as documented."""

from __future__ import annotations

from pathlib import Path

import release_agent


def test_all_names_exist_and_are_sorted() -> None:
    assert release_agent.__all__ == sorted(release_agent.__all__)
    for name in release_agent.__all__:
        assert hasattr(release_agent, name), name


def test_the_documented_example_decides(tmp_path: Path) -> None:
    from release_agent import Agent, Decision, ReleaseRequest, Result, Store, load_policy

    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'm.db'}"), load_policy())
    record = agent.decide(
        ReleaseRequest(
            service="search",
            feature_risk="LOW",
            service_criticality="MEDIUM",
            at="2026-11-24T10:00:00+01:00",
        )
    )
    assert record.decision is Decision.GO
    assert agent.record_outcome(record.release_id, Result.success).result is Result.success


def test_every_subpackage_is_a_regular_package() -> None:
    """A folder without __init__.py would be left out of a wheel."""
    root = Path(release_agent.__file__).parent
    for folder in root.rglob("*"):
        if folder.is_dir() and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), folder
