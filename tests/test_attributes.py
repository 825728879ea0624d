"""The attribute registry is the one vocabulary of context attributes.

Everything that lists attributes — the episodes table, Context, the risk model's
features, mining, recall of similar episodes, the LLM's answer schema and prompt — is
built from it; the last test adds a toy attribute to a copy of the package, touching
nothing but the registry, and follows it through deciding and learning.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from release_agent.decide.context import attributes_at, evaluate
from release_agent.domain.attributes import ATTRIBUTES, NAMES, Kind, complete
from release_agent.domain.conditions import KNOWN_ATTRIBUTES, normalize
from release_agent.domain.models import ReleaseRequest
from release_agent.domain.policy import DecisionSettings
from release_agent.memory import schema
from release_agent.reasoners.llm_answers import EXTRACT_SCHEMA
from release_agent.stats import mining, risk_model
from release_agent.stats.priors import Priors

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "release_agent"


def _request(at: str = "2026-11-27T16:00:00+01:00") -> ReleaseRequest:
    return ReleaseRequest(
        service="search",
        feature_risk="MEDIUM",
        service_criticality="HIGH",
        at=at,
        clashes=["payments"],
    )


def test_every_listing_of_attributes_is_the_registry() -> None:
    columns = {c.name for c in schema.episodes.columns}
    assert set(NAMES) <= columns
    assert KNOWN_ATTRIBUTES == NAMES
    assert list(evaluate(_request(), DecisionSettings()).attributes()) == list(NAMES)
    when = EXTRACT_SCHEMA["properties"]["proposals"]["items"]["properties"]["when"]
    expected = {a.name for a in ATTRIBUTES if a.kind is not Kind.hour} | {"hour_from", "hour_to"}
    assert set(when["properties"]) == expected
    assert {a.name for a in mining.MINING_ATTRIBUTES} == {a.name for a in ATTRIBUTES if a.mined}


def test_column_types_follow_the_kind() -> None:
    types = {
        Kind.text: sa.String,
        Kind.enum: sa.String,
        Kind.hour: sa.Integer,
        Kind.flag: sa.Boolean,
    }
    for attribute in ATTRIBUTES:
        assert isinstance(schema.episodes.c[attribute.name].type, types[attribute.kind])


def test_a_context_and_the_scheduler_see_the_same_attributes() -> None:
    request = _request()
    settings = DecisionSettings()
    context = evaluate(request, settings)
    assert attributes_at(request, settings, request.at, clash=True) == context.attributes()
    assert context.attributes()["friday_afternoon"] is True
    assert context.model_dump(mode="json")["weekend"] is False


def test_derived_flags_come_from_day_and_hour_alone() -> None:
    settings = DecisionSettings()
    assert complete({"day_of_week": "SAT"}, settings)["weekend"] is True
    done = complete({"day_of_week": "FRI", "hour_of_day": 13}, settings)
    assert (done["friday_afternoon"], done["out_of_hours"]) == (True, False)
    assert "out_of_hours" not in complete({"day_of_week": "FRI"}, settings)
    # what is given stays as given
    assert complete({"day_of_week": "SAT", "weekend": False}, settings)["weekend"] is False


def test_every_effect_the_risk_model_can_meet_has_a_prior() -> None:
    context = evaluate(_request(), DecisionSettings()).attributes()
    context["env"], context["production"] = "staging", False
    features = risk_model._features(context)
    for name in features:
        _mean, sd = Priors().of(name)
        assert sd > 0
    assert {"clash", "friday_afternoon", "non_production", "service=search"} <= set(features)
    assert "service=search/feature_risk=MEDIUM" in features
    with pytest.raises(KeyError):
        Priors().of("no_such_effect")


def test_conditions_accept_exactly_the_registered_attributes() -> None:
    for attribute in ATTRIBUTES:
        value = attribute.all_values[0] if attribute.all_values else "x"
        assert normalize({attribute.name: value}) == {attribute.name: value}


TOY = """
def _month_end(o: Observation) -> bool:
    return (o.local + timedelta(days=3)).month != o.local.month


ATTRIBUTES = (
    *ATTRIBUTES,
    Attribute(
        "month_end",
        Kind.flag,
        "month end",
        "the last three days of the month, local time",
        observe=_month_end,
        transient=True,
        similarity=1.0,
        effect=Effect("flag", {"month_end": (0.0, 0.5)}),
    ),
)
"""

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timedelta, timezone
    import sqlalchemy as sa
    from release_agent import Agent, ReleaseRequest, Result, Store
    from release_agent.reasoners.llm_answers import EXTRACT_SCHEMA

    store = Store.open(sys.argv[1])
    agent = Agent(store)
    start = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    month_end_decisions = 0
    for day in range(150):
        for service in ("search", "catalog", "billing"):
            at = start + timedelta(days=day)
            if at.weekday() >= 5:
                continue
            record = agent.decide(ReleaseRequest(service=service, feature_risk="LOW",
                                                 service_criticality="LOW", at=at))
            month_end = record.context.model_dump()["month_end"]
            month_end_decisions += month_end
            if record.decision.value == "GO":
                fails = month_end and service != "catalog" or (day % 29 == 0)
                agent.record_outcome(record.release_id,
                                     Result.incident if fails else Result.success)
    report = agent.learn()
    with store.engine.connect() as conn:
        columns = [c["name"] for c in sa.inspect(conn).get_columns("episodes")]
    when = EXTRACT_SCHEMA["properties"]["proposals"]["items"]["properties"]["when"]
    print(json.dumps({
        "month_end_decisions": month_end_decisions,
        "column": "month_end" in columns,
        "heuristics": [h.when for h in store.active_heuristics()],
        "model_has_effect": "month_end" in agent.model().names,
        "llm_schema": "month_end" in when["properties"],
        "last_context": record.context.model_dump(mode="json"),
    }))
    """
)


def test_a_new_attribute_needs_only_the_registry(tmp_path: Path) -> None:
    copy = tmp_path / "pkg" / "release_agent"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    registry = copy / "domain" / "attributes.py"
    text = registry.read_text()
    text = text.replace(
        "from datetime import datetime\n", "from datetime import datetime, timedelta\n"
    )
    marker = "BY_NAME: dict[str, Attribute]"
    registry.write_text(text.replace(marker, TOY + "\n\n" + marker, 1))
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(copy.parent)}
    done = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{tmp_path / 'toy.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["month_end_decisions"] > 0
    assert result["column"] and result["model_has_effect"] and result["llm_schema"]
    assert "month_end" in result["last_context"]
    # learning mined the planted risk on the new attribute
    assert any("month_end" in when for when in result["heuristics"]), result["heuristics"]
