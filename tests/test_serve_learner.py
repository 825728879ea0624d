"""The background learner of ``serve``: outcomes posted through the API lead to new
knowledge without anyone calling /learn; several apps over one database learn one at a
time; the learner stops with the app; ``--no-learn`` (RELEASE_AGENT_LEARN=off) has none.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_support import body, client_of
from release_agent.api import create_app
from release_agent.api.serving import create_app_from_env, learn_settings
from release_agent.domain.errors import InvalidInput
from release_agent.learn import loop
from release_agent.learn.worker import LearningWorker, LearnSettings
from release_agent.memory.store import Store

MONDAY = datetime.fromisoformat("2026-11-23T10:00:00+01:00")


def eventually(condition: Callable[[], bool], seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def decide_and_report(client: TestClient, count: int, start: int = 0) -> list[str]:
    """``count`` decisions through the API, each with a successful outcome."""
    ids = []
    for i in range(start, start + count):
        at = (MONDAY + timedelta(days=7 * i)).isoformat()
        answer = client.post("/api/v1/decisions", json=body(at=at))
        assert answer.status_code == 201, answer.text
        release_id = answer.json()["release_id"]
        outcome = client.post(f"/api/v1/decisions/{release_id}/outcome", json={"result": "success"})
        assert outcome.status_code == 201, outcome.text
        ids.append(release_id)
    return ids


def learning_app(url: str, every: int, poll: float = 0.05) -> FastAPI:
    return create_app(
        db_url=url,
        learning=LearnSettings(every_outcomes=every, every_seconds=3600.0, poll_seconds=poll),
    )


def learner_of(app: FastAPI) -> LearningWorker:
    worker = app.state.learner
    assert isinstance(worker, LearningWorker)
    return worker


def test_outcomes_posted_to_the_api_lead_to_new_knowledge_without_a_learn_call(
    database_url: str,
) -> None:
    app = learning_app(database_url, every=3)
    store = Store.open(database_url)
    try:
        with client_of(app) as client:
            decide_and_report(client, 2)
            # Two new outcomes of the three the cadence asks for: nothing learned.
            assert learner_of(app).run_once() is None
            assert store.knowledge_version() == 0
            decide_and_report(client, 1, start=2)
            assert eventually(lambda: store.knowledge_version() > 0)
            version = store.knowledge_version()
            assert store.knowledge().outcomes == 3
            # The next decision reads the knowledge the background learner published.
            answer = client.post("/api/v1/decisions", json=body(at=MONDAY.isoformat()))
            assert answer.json()["knowledge_version"] == version
    finally:
        store.close()


def test_the_cadence_defaults_to_the_policys_extract_every(tmp_path: Any) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[decision]\nextract_every = 7\n")
    from release_agent.domain.policy import load_policy

    app = create_app(
        db_url=f"sqlite:///{tmp_path / 'p.db'}",
        policy=load_policy(policy),
        learning=LearnSettings(),
    )

    assert learner_of(app).cadence.every_outcomes == 7


def test_the_learner_stops_when_the_app_shuts_down(database_url: str) -> None:
    app = learning_app(database_url, every=1)
    worker = learner_of(app)
    with client_of(app):
        thread = worker._thread
        assert thread is not None and thread.is_alive()
    assert worker._thread is None and not thread.is_alive()


@pytest.fixture
def watched_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Every learning run, counted while it runs: ``most`` is the largest number that
    ever ran at once (each run lingers, so that two at once would be seen)."""
    seen = {"now": 0, "most": 0, "runs": 0}
    guard = threading.Lock()
    real = loop._run

    def watched(*args: Any, **kwargs: Any) -> Any:
        with guard:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            time.sleep(0.2)
            return real(*args, **kwargs)
        finally:
            with guard:
                seen["now"] -= 1
                seen["runs"] += 1

    monkeypatch.setattr(loop, "_run", watched)
    yield seen


def test_two_apps_over_one_database_learn_one_at_a_time(
    database_url: str, watched_runs: dict[str, int]
) -> None:
    first, second = learning_app(database_url, every=1), learning_app(database_url, every=1)
    store = Store.open(database_url)
    try:
        with client_of(first) as one, client_of(second) as two:
            with store.learner_lock():
                # Another learner (say a cron job) holds the lock: neither app learns.
                decide_and_report(one, 2)
                decide_and_report(two, 2, start=2)
                assert learner_of(first).run_once() is None
                assert learner_of(second).run_once() is None
                assert store.knowledge_version() == 0 and watched_runs["runs"] == 0
            for i in range(4, 12):
                decide_and_report(one if i % 2 else two, 1, start=i)
            assert eventually(lambda: store.knowledge().outcomes == 12)
    finally:
        store.close()

    assert watched_runs["runs"] >= 1
    assert watched_runs["most"] == 1
    runs = learner_of(first).runs + learner_of(second).runs
    assert runs == watched_runs["runs"]  # every run that ran was one of the two apps'


def test_no_learn_leaves_the_app_without_a_learner(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASE_AGENT_DB", f"sqlite:///{tmp_path / 'e.db'}")
    monkeypatch.setenv("RELEASE_AGENT_LEARN", "off")
    app = create_app_from_env()
    with client_of(app) as client:
        decide_and_report(client, 3)
    assert app.state.learner is None
    assert Store.open(f"sqlite:///{tmp_path / 'e.db'}").knowledge_version() == 0


def test_the_environment_sets_the_learners_cadence(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = learn_settings(
        {"RELEASE_AGENT_LEARN_EVERY": "12", "RELEASE_AGENT_LEARN_INTERVAL": "2.5"}
    )

    assert settings == LearnSettings(every_outcomes=12, every_seconds=150.0)
    assert learn_settings({}) == LearnSettings(every_outcomes=None, every_seconds=600.0)


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"RELEASE_AGENT_LEARN": "sometimes"}, "RELEASE_AGENT_LEARN"),
        ({"RELEASE_AGENT_LEARN_EVERY": "ten"}, "RELEASE_AGENT_LEARN_EVERY"),
        ({"RELEASE_AGENT_LEARN_INTERVAL": "nan"}, "RELEASE_AGENT_LEARN_INTERVAL"),
        ({"RELEASE_AGENT_LEARN_INTERVAL": "soon"}, "RELEASE_AGENT_LEARN_INTERVAL"),
    ],
)
def test_a_bad_learning_variable_is_refused_naming_it(environ: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        learn_settings(environ)

    assert caught.value.field == field


def test_a_cadence_out_of_range_is_refused_before_the_app_exists(tmp_path: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_app(
            db_url=f"sqlite:///{tmp_path / 'c.db'}",
            learning=LearnSettings(every_outcomes=0),
        )

    assert caught.value.field == "learn_every"
