"""Webhook notifications: the ``[[notify]]`` tables are validated like the rest of the
policy; messages go out from a background thread with retries and a timeout, in Slack's
shape or ours; a decision never waits for a webhook; no log line holds a webhook's URL."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from api_support import body, client_of
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Decision, DecisionRecord, parse_request
from release_agent.domain.policy import Policy
from release_agent.integrations.notify import EVENTS, load_targets, parse_targets, payload
from release_agent.integrations.sender import Sender
from release_agent.memory.store import Store

SECRET_PATH = "/services/T000/B000/sup3rs3cr3t"


def target(url: str, **overrides: Any) -> dict[str, Any]:
    return {"url": url, "on": ["GO", "NO_GO", "DELAY", "incident"], **overrides}


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> DecisionRecord:
    """A decision record as the agent makes one."""
    url = f"sqlite:///{tmp_path_factory.mktemp('notify') / 'made.db'}"
    store = Store.open(url)
    try:
        return Agent(store).decide(parse_request(body()))
    finally:
        store.close()


@pytest.fixture
def record(decided: DecisionRecord) -> Callable[..., DecisionRecord]:
    """The decision record with another result (and fields)."""

    def make(decision: Decision = Decision.NO_GO, **fields: Any) -> DecisionRecord:
        return decided.model_copy(update={"decision": decision, **fields})

    return make


# -- the [[notify]] tables ---------------------------------------------------------------


def test_a_table_is_read_with_its_defaults() -> None:
    (only,) = parse_targets({"notify": [{"url": "https://hooks.example/x", "on": ["NO_GO"]}]})
    assert (only.url, only.on, only.format, only.timeout, only.retries) == (
        "https://hooks.example/x",
        ("NO_GO",),
        "json",
        5.0,
        3,
    )
    assert parse_targets({"decision": {"max_delays": 1}}) == ()


@pytest.mark.parametrize(
    ("table", "field", "allowed"),
    [
        ({"on": ["NO_GO"]}, "notify[0].url", None),
        ({"url": "ftp://hooks.example/x", "on": ["NO_GO"]}, "notify[0].url", None),
        ({"url": "https://hooks.example/a b", "on": ["NO_GO"]}, "notify[0].url", None),
        ({"url": "https://hooks.example:http/x", "on": ["NO_GO"]}, "notify[0].url", None),
        ({"url": "https://h.example/x", "on": ["NOGO"]}, "notify[0].on", list(EVENTS)),
        ({"url": "https://h.example/x", "on": []}, "notify[0].on", list(EVENTS)),
        ({"url": "https://h.example/x", "on": "NO_GO"}, "notify[0].on", None),
        ({"url": "https://h.example/x", "on": ["GO"], "format": "teams"}, "notify[0].format",
         ["json", "slack"]),
        ({"url": "https://h.example/x", "on": ["GO"], "timeout": float("nan")},
         "notify[0].timeout", None),
        ({"url": "https://h.example/x", "on": ["GO"], "timeout": float("inf")},
         "notify[0].timeout", None),
        ({"url": "https://h.example/x", "on": ["GO"], "timeout": 0}, "notify[0].timeout", None),
        ({"url": "https://h.example/x", "on": ["GO"], "retries": 11}, "notify[0].retries", None),
        ({"url": "https://h.example/x", "on": ["GO"], "retries": 1.5}, "notify[0].retries",
         None),
    ],
)  # fmt: skip
def test_a_bad_table_is_refused_naming_the_key(
    table: dict[str, Any], field: str, allowed: list[str] | None
) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_targets({"notify": [table]})
    assert caught.value.field == field
    if allowed is not None:
        assert sorted(caught.value.allowed or []) == sorted(allowed)


def test_an_unknown_key_lists_the_known_ones_and_a_bad_url_is_not_repeated() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_targets(
            {
                "notify": [
                    target("https://h.example/x"),
                    {**target("https://h.example/y"), "secret": 1},
                ]
            }
        )
    assert caught.value.field == "notify[1].secret"
    assert set(caught.value.allowed or []) == {"url", "on", "format", "timeout", "retries"}
    with pytest.raises(PolicyError) as caught:
        parse_targets({"notify": [target("hooks.example" + SECRET_PATH)]})
    assert SECRET_PATH not in str(caught.value)


def test_the_tables_are_read_from_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[decision]\nmax_delays = 1\n\n[[notify]]\nurl = "https://h.example/a"\non = ["DELAY"]\n'
        'format = "slack"\n'
    )
    (only,) = load_targets(path)
    assert (only.url, only.on, only.format) == ("https://h.example/a", ("DELAY",), "slack")
    assert load_targets(None) == ()
    path.write_text("[[notify]\n")
    with pytest.raises(PolicyError):
        load_targets(path)


@given(st.lists(st.text(max_size=10), max_size=6))
def test_on_is_accepted_exactly_when_it_names_known_events(events: list[str]) -> None:
    table = {"notify": [{"url": "https://h.example/x", "on": events}]}
    if events and all(event in EVENTS for event in events):
        (only,) = parse_targets(table)
        assert only.on == tuple(dict.fromkeys(events))
    else:
        with pytest.raises(PolicyError) as caught:
            parse_targets(table)
        assert caught.value.field == "notify[0].on"


# -- the shapes ------------------------------------------------------------------------------


def test_the_json_shape_has_the_decision_service_env_reason_and_release_id(
    record: Callable[..., DecisionRecord],
) -> None:
    rec = record(Decision.DELAY)
    sent = payload("DELAY", rec, "json")
    assert sent == {
        "event": "DELAY",
        "decision": "DELAY",
        "service": rec.request.service,
        "env": rec.request.env,
        "reason": rec.reason,
        "release_id": rec.release_id,
        "next_window": rec.next_window.isoformat() if rec.next_window else None,
        "outcome": None,
    }


def test_the_slack_shape_is_text_alone(record: Callable[..., DecisionRecord]) -> None:
    rec = record(Decision.NO_GO)
    sent = payload("NO_GO", rec, "slack")
    assert list(sent) == ["text"]
    assert sent["text"].startswith(f"NO_GO: {rec.request.service} to {rec.request.env}")
    assert rec.reason in sent["text"] and rec.release_id in sent["text"]
    marked = payload("NO_GO", record(Decision.NO_GO, reason="<!channel> a & b"), "slack")
    assert "&lt;!channel&gt; a &amp; b" in marked["text"] and "<" not in marked["text"]


# -- delivery --------------------------------------------------------------------------------


def sender_for(*tables: dict[str, Any]) -> Sender:
    return Sender(parse_targets({"notify": list(tables)}), backoff=0.01)


def test_a_500_is_retried_until_it_is_accepted(
    httpserver: HTTPServer, record: Callable[..., DecisionRecord]
) -> None:
    answers = iter([500, 503, 200])
    httpserver.expect_request(SECRET_PATH, method="POST").respond_with_handler(
        lambda _request: Response("", status=next(answers))
    )
    sender = sender_for(target(httpserver.url_for(SECRET_PATH), format="slack"))
    sender.decided(record(Decision.NO_GO))
    assert sender.drain(10)
    sender.close()
    assert sender.counts == {"sent": 1}
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert len(bodies) == 3 and all(list(b) == ["text"] for b in bodies)


def test_retries_end_and_a_4xx_is_not_retried(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, record: Callable[..., DecisionRecord]
) -> None:
    httpserver.expect_request("/down", method="POST").respond_with_data("", status=500)
    httpserver.expect_request(SECRET_PATH, method="POST").respond_with_data("", status=404)
    sender = sender_for(
        target(httpserver.url_for("/down"), retries=2), target(httpserver.url_for(SECRET_PATH))
    )
    with caplog.at_level(logging.INFO, logger="release_agent.notify"):
        rec = record(Decision.GO)
        sender.decided(rec)
        assert sender.drain(10)
        sender.close()
    assert sender.counts == {"failed": 2}
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/down") == 3 and paths.count(SECRET_PATH) == 1
    # (the test server's own access log, which names the path, is not ours)
    ours = [line for line in caplog.records if line.name == "release_agent.notify"]
    text = "\n".join(line.getMessage() for line in ours)
    assert len(ours) == 4 and all(
        getattr(line, "release_id", None) == rec.release_id for line in ours
    )
    assert SECRET_PATH not in text and "T000" not in text
    assert "giving up" in text and "not retried" in text


def test_a_webhook_that_does_not_answer_times_out(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, record: Callable[..., DecisionRecord]
) -> None:
    release = threading.Event()

    def hang(_request: Request) -> Response:
        release.wait(10)
        return Response("", status=200)

    httpserver.expect_request("/slow", method="POST").respond_with_handler(hang)
    sender = sender_for(target(httpserver.url_for("/slow"), timeout=0.2, retries=1))
    with caplog.at_level(logging.WARNING, logger="release_agent.notify"):
        sender.decided(record(Decision.NO_GO))
        assert sender.drain(10)
    release.set()
    sender.close()
    assert sender.counts == {"failed": 1}
    assert caplog.text.count("timed out after 0.2s") == 2


def test_only_the_events_a_target_listens_for_are_sent(
    httpserver: HTTPServer, record: Callable[..., DecisionRecord]
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("")
    sender = sender_for(target(httpserver.url_for("/hook"), on=["NO_GO"]))
    sender.decided(record(Decision.GO))
    sender.decided(record(Decision.NO_GO))
    assert sender.drain(10)
    sender.close()
    # Only this test's target: a sender of an earlier test may still be retrying its own.
    (only,) = [
        json.loads(request.get_data()) for request, _ in httpserver.log if request.path == "/hook"
    ]
    assert only["decision"] == "NO_GO"


def test_a_full_queue_drops_instead_of_waiting(record: Callable[..., DecisionRecord]) -> None:
    # A target whose host refuses connections keeps the thread busy retrying.
    sender = Sender(
        parse_targets({"notify": [target("http://127.0.0.1:9/x", retries=10)]}),
        backoff=5.0,
        queue_size=1,
    )
    for _ in range(5):
        sender.decided(record(Decision.NO_GO))
    sender.close(timeout=0.1)
    assert sender.counts["dropped"] >= 3


# -- through the API ----------------------------------------------------------------------


def app_notifying(tmp_path: Path, url: str, **overrides: Any) -> Any:
    path = tmp_path / "policy.toml"
    on = overrides.pop("on", ["GO", "NO_GO", "DELAY", "incident"])
    path.write_text(f'[[notify]]\nurl = "{url}"\non = {json.dumps(on)}\n')
    return create_app(db_url=f"sqlite:///{tmp_path / 'api.db'}", policy=Policy(source=str(path)))


def test_a_decision_does_not_wait_for_a_slow_webhook(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    release, answered = threading.Event(), threading.Event()
    received: list[dict[str, Any]] = []

    def slow(request: Request) -> Response:
        received.append(json.loads(request.get_data()))
        release.wait(5)
        answered.set()
        return Response("", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(slow)
    app = app_notifying(tmp_path, httpserver.url_for("/hook"))
    with client_of(app) as client:
        answer = client.post("/api/v1/decisions", json=body())
        assert answer.status_code == 201
        # Had the decision waited for the webhook, the webhook would have answered by now.
        assert not answered.is_set()
        release.set()
        assert app.state.observer.sender.drain(10)
    assert answered.is_set()
    (sent,) = received
    assert sent["release_id"] == answer.json()["release_id"]
    assert sent["decision"] == answer.json()["decision"]


def test_an_incident_is_sent_and_other_outcomes_are_not(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("")
    app = app_notifying(tmp_path, httpserver.url_for("/hook"), on=["incident"])
    with client_of(app) as client:
        first = client.post("/api/v1/decisions", json=body()).json()["release_id"]
        second = client.post("/api/v1/decisions", json=body()).json()["release_id"]
        url = "/api/v1/decisions/{}/outcome"
        assert client.post(url.format(first), json={"result": "success"}).status_code == 201
        assert client.post(url.format(second), json={"result": "incident"}).status_code == 201
        assert app.state.observer.sender.drain(10)
    (sent,) = [
        json.loads(request.get_data()) for request, _ in httpserver.log if request.path == "/hook"
    ]
    assert (sent["event"], sent["outcome"], sent["release_id"]) == ("incident", "incident", second)


def test_a_bad_notify_table_stops_the_app_before_it_listens(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        app_notifying(tmp_path, "not a url")
    assert caught.value.field == "notify[0].url"
