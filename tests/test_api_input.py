"""Input at the API's edges: times that are not ISO text, text that cannot be stored,
booleans that are not booleans, bodies that are not UTF-8 JSON, and choices in any case.

Each refusal is a 422 naming the field, and the store is unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api_support import body, client_of, new_app, only_problem, post_raw, store_of
from release_agent.api.schemas import (
    AT_SCHEMA_PATTERN,
    NAME_SCHEMA_PATTERN,
    any_case_pattern,
    year_pattern,
)
from release_agent.domain.errors import InvalidInput
from release_agent.domain.models import MAX_YEAR, MIN_YEAR, parse_request

LEVELS = ["LOW", "MEDIUM", "HIGH"]
DECISIONS = "/api/v1/decisions"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return client_of(new_app(tmp_path), raise_server_exceptions=False)


def decided(client: TestClient) -> str:
    answer = client.post(DECISIONS, json=body())
    assert answer.status_code == 201, answer.text
    return str(answer.json()["release_id"])


# -- at: ISO text only ------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["1732723200", "1732723200.5", 1732723200, 1732723200.5, True])
def test_a_unix_time_for_at_is_refused(client: TestClient, at: Any) -> None:
    problem = only_problem(client.post(DECISIONS, json=body(at=at)), 422)
    assert problem["field"] == "at"
    assert "ISO 8601" in problem["message"]
    assert store_of(client).count_decisions() == 0


def test_rfc3339_lower_case_separators_are_read(client: TestClient) -> None:
    answer = client.post(DECISIONS, json=body(at="2026-11-24t09:00:00z"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["request"]["at"] == "2026-11-24T09:00:00Z"


# -- text that cannot be stored ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"notes": "a\ud800b"}, "notes"),
        ({"notes": "a\x00b"}, "notes"),
        ({"service": "a\ud800b"}, "service"),
        ({"env": "\udfff"}, "env"),
        ({"clashes": ["ok", "a\ud800b"]}, "clashes"),
    ],
)
def test_text_that_cannot_be_stored_is_bad_input(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    raw = json.dumps(body(**overrides)).encode()  # \ud800 travels as a JSON escape
    problem = only_problem(post_raw(client, DECISIONS, raw), 422)
    assert problem["field"] == field
    assert store_of(client).count_decisions() == 0


def test_outcome_notes_that_cannot_be_stored_are_bad_input(client: TestClient) -> None:
    release_id = decided(client)
    for notes in ("a\ud800b", "a\x00b"):
        raw = json.dumps({"result": "success", "notes": notes}).encode()
        problem = only_problem(post_raw(client, f"{DECISIONS}/{release_id}/outcome", raw), 422)
        assert problem["field"] == "notes"
    assert store_of(client).count_outcomes() == 0


def test_a_field_name_with_a_lone_surrogate_is_bad_input(client: TestClient) -> None:
    raw = json.dumps(body(**{"x\ud800": 1})).encode()
    assert only_problem(post_raw(client, DECISIONS, raw), 422)["field"] == "body"


# -- booleans are booleans -------------------------------------------------------------------


@pytest.mark.parametrize("replace", ["yes", "true", 1, 0, "1", None])
def test_replace_must_be_a_json_boolean(client: TestClient, replace: Any) -> None:
    release_id = decided(client)
    url = f"{DECISIONS}/{release_id}/outcome"
    assert client.post(url, json={"result": "success"}).status_code == 201
    answer = client.post(url, json={"result": "incident", "replace": replace})
    assert only_problem(answer, 422)["field"] == "replace"
    assert client.get(f"{DECISIONS}/{release_id}").json()["outcome"]["result"] == "success"


# -- bodies that are not UTF-8 JSON ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"service": "\xff\xfe"}', "UTF-8"),
        ('{"service": "search"}'.encode("utf-16"), "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b'{"notes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nests too deeply"),
        (b'{"service": "a",}', "not valid JSON"),
    ],
)
def test_a_body_that_is_not_utf8_json_is_422_naming_the_body(
    client: TestClient, raw: bytes, says: str
) -> None:
    problem = only_problem(post_raw(client, DECISIONS, raw), 422)
    assert problem["field"] == "body"
    assert says in problem["message"]
    assert store_of(client).count_decisions() == 0


def test_a_body_without_a_json_content_type_says_how_to_send_it(client: TestClient) -> None:
    answer = client.post(DECISIONS, content=json.dumps(body()).encode())
    problem = only_problem(answer, 422)
    assert problem["field"] == "body"
    assert "application/json" in problem["message"]


# -- choices in any case ----------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["high", "High", "hIGH", "HIGH"])
def test_levels_are_read_in_any_case(client: TestClient, spelling: str) -> None:
    answer = client.post(DECISIONS, json=body(feature_risk=spelling, service_criticality=spelling))
    assert answer.status_code == 201, answer.text
    request = answer.json()["request"]
    assert (request["feature_risk"], request["service_criticality"]) == ("HIGH", "HIGH")


@pytest.mark.parametrize("spelling", ["hıgh", "HİGH", " high", "high ", "hi gh"])
def test_near_spellings_of_a_level_are_refused(client: TestClient, spelling: str) -> None:
    problem = only_problem(client.post(DECISIONS, json=body(feature_risk=spelling)), 422)
    assert (problem["field"], problem["allowed"]) == ("feature_risk", LEVELS)


def test_results_and_decision_filters_are_read_in_any_case(client: TestClient) -> None:
    release_id = decided(client)
    answer = client.post(f"{DECISIONS}/{release_id}/outcome", json={"result": "Rolled_Back"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"]["result"] == "rolled_back"
    decision = client.get(f"{DECISIONS}/{release_id}").json()["decision"]
    for spelling in (decision.lower(), decision.title(), decision):
        items = client.get(DECISIONS, params={"decision": spelling}).json()["items"]
        assert [r["release_id"] for r in items] == [release_id]


# -- the documented patterns say exactly what the domain accepts ------------------------------


def _accepts(**fields: Any) -> bool:
    data = {"service": "a", "feature_risk": "LOW", "service_criticality": "LOW"}
    data["at"] = "2026-11-24T10:00:00+01:00"
    try:
        parse_request({**data, **fields})
    except InvalidInput:
        return False
    return True


_NAMEISH = st.text(st.sampled_from("aZ9._-/ \t\n\u00a0é*"), max_size=104)


@given(name=_NAMEISH | st.from_regex(NAME_SCHEMA_PATTERN))
def test_the_name_pattern_is_the_domain_rule(name: str) -> None:
    documented = re.search(NAME_SCHEMA_PATTERN, name) is not None
    assert documented == _accepts(service=name) == _accepts(env=name)
    assert documented == _accepts(clashes=[name])


@given(words=st.lists(st.text(st.characters(codec="ascii"), min_size=1), min_size=1, max_size=4))
def test_the_any_case_pattern_matches_exactly_the_words_in_any_case(words: list[str]) -> None:
    pattern = re.compile(any_case_pattern(words))
    for word in words:
        assert pattern.search(word.upper()) and pattern.search(word.lower())
    assert not pattern.search(words[0] + "!") or words[0] + "!" in words


@given(low=st.integers(1000, 9999), span=st.integers(0, 400), year=st.integers(1000, 9999))
def test_year_pattern_matches_exactly_the_range(low: int, span: int, year: int) -> None:
    high = min(low + span, 9999)
    matched = re.fullmatch(f"({year_pattern(low, high)})", str(year)) is not None
    assert matched == (low <= year <= high)


@given(year=st.integers(1000, 9999))
def test_the_documented_years_are_the_domain_years(year: int) -> None:
    at = f"{year:04d}-06-15T12:00:00+00:00"
    assert (re.search(AT_SCHEMA_PATTERN, at) is not None) == _accepts(at=at)
    assert (re.search(AT_SCHEMA_PATTERN, at) is not None) == (MIN_YEAR <= year <= MAX_YEAR)
