"""The GitHub Action (action.yml and ``release_agent.integrations.action``).

The module runs as the action runs it: a subprocess with ``INPUT_*`` variables and fake
``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY`` files, against a real ``release-agent
serve`` on a loopback port (server mode) and with a database of its own (local mode). A
policy makes the three answers certain: a LOW criticality service is GO (its failures
cost nothing), a HIGH one is NO_GO (they cost 1e9), and the environment ``frozen`` is in a
freeze that ends two hours from now (DELAY to its end).
"""

from __future__ import annotations

import ast
import html
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pytest_httpserver import HTTPServer
from werkzeug import Response

from action_support import (
    ROOT,
    TOKEN,
    Server,
    commands_outside_stops,
    parse_outputs,
    run_step,
    serving,
    write_policy,
)
from release_agent.integrations import action
from release_agent.integrations.action import INPUTS, OUTPUTS, Inputs, Runtime, input_variable
from release_agent.integrations.gate_backends import Ask, GateError, ServerBackend, Verdict
from release_agent.integrations.workflow_io import (
    Log,
    markdown_paragraph,
    markdown_text,
    visible,
    write_outputs,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for this module's tests."""
    with serving(tmp_path_factory.mktemp("action-server")) as running:
        yield running


def gate(server: Server, **inputs: str) -> dict[str, str]:
    """Inputs of a decide step against ``server``."""
    base = {
        "server-url": server.url,
        "token": TOKEN,
        "service": "web",
        "feature-risk": "low",
        "criticality": "LOW",
    }
    base.update({name.replace("_", "-"): value for name, value in inputs.items()})
    return base


# -- server mode ----------------------------------------------------------------------------


def test_go_writes_the_outputs_and_a_summary_and_exits_0(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server, notes="first"), sha="c0ffee")
    assert step.code == 0, step.stdout + step.stderr
    assert set(step.outputs) == set(OUTPUTS)
    assert step.outputs["decision"] == "GO"
    assert step.outputs["next_window"] == ""
    assert step.outputs["reason"].startswith("GO")
    assert step.outputs["shadow"] == "false"
    record = server.get(f"/api/v1/decisions/{step.outputs['release_id']}")
    assert record["decision"] == "GO"
    assert record["request"]["ref"] == "c0ffee:prod"  # the default ref: sha and env
    assert record["request"]["notes"] == "first"
    assert "Release gate: GO" in step.summary
    assert markdown_text(step.outputs["release_id"]) in step.summary
    assert "::error" not in step.stdout


def test_the_default_ref_writes_white_space_in_env_as_underscores(
    tmp_path: Path, server: Server
) -> None:
    step = run_step(tmp_path, gate(server, env="eu  west"), sha="5eed")
    assert step.code == 0, step.stdout + step.stderr
    record = server.get(f"/api/v1/decisions/{step.outputs['release_id']}")
    assert record["request"]["ref"] == "5eed:eu_west"


def test_the_same_ref_asked_again_answers_the_same_decision(tmp_path: Path, server: Server) -> None:
    first = run_step(tmp_path, gate(server, ref="build-77"))
    second = run_step(tmp_path, gate(server, ref="build-77"))
    assert first.code == second.code == 0
    assert first.outputs["release_id"] == second.outputs["release_id"]


def test_no_go_fails_the_step_with_exit_4(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server, criticality="high", clash="search, cart\nauth"))
    assert step.code == 4, step.stdout + step.stderr
    assert step.outputs["decision"] == "NO_GO"
    assert "::error title=release gate::NO_GO for web -> prod" in step.stdout
    record = server.get(f"/api/v1/decisions/{step.outputs['release_id']}")
    assert record["request"]["clashes"] == ["search", "cart", "auth"]
    assert "Release gate: NO_GO" in step.summary


def test_delay_fails_the_step_with_exit_3_and_names_the_window(
    tmp_path: Path, server: Server
) -> None:
    step = run_step(tmp_path, gate(server, env="frozen"))
    assert step.code == 3, step.stdout + step.stderr
    assert step.outputs["decision"] == "DELAY"
    window = datetime.fromisoformat(step.outputs["next_window"])
    assert window >= server.freeze_end  # not inside the freeze
    assert "ask again at" in step.stdout


def test_wait_does_not_wait_for_a_window_beyond_max_wait(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server, env="frozen", on_delay="wait", max_wait_minutes="1"))
    assert step.code == 3, step.stdout + step.stderr
    assert "is after max-wait-minutes" in step.stdout and "not waiting" in step.stdout
    assert step.outputs["decision"] == "DELAY"


def test_a_shadow_decision_blocks_nothing(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server, criticality="HIGH", shadow="true", team="web-team"))
    assert step.code == 0, step.stdout + step.stderr
    assert step.outputs["decision"] == "NO_GO" and step.outputs["shadow"] == "true"
    assert "shadow: NO_GO is advice only; the step passes" in step.stdout
    assert "::error" not in step.stdout
    assert "Release gate: NO_GO (shadow: advice only, blocks nothing)" in step.summary
    record = server.get(f"/api/v1/decisions/{step.outputs['release_id']}")
    assert record["shadow"] is True and record["request"]["team"] == "web-team"


def test_server_mode_needs_only_the_standard_library(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server), isolated=True)
    assert step.code == 0, step.stdout + step.stderr
    assert step.outputs["decision"] == "GO"


def test_the_token_is_masked_first_and_never_printed(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server, criticality="high"))
    assert step.code == 4
    lines = step.stdout.splitlines()
    assert lines[0] == f"::add-mask::{TOKEN}"  # before anything else, for the runner only
    everything = "\n".join(lines[1:]) + step.stderr + step.raw_outputs + step.summary
    assert TOKEN not in everything
    # Outside Actions there is no runner to mask it: it is not printed at all.
    plain = run_step(tmp_path, gate(server, criticality="high"), actions=False)
    assert plain.code == 4
    assert TOKEN not in plain.stdout + plain.stderr + plain.raw_outputs + plain.summary


def test_a_wrong_token_is_bad_input_and_neither_token_is_shown(
    tmp_path: Path, server: Server
) -> None:
    wrong = "not-the-token-0123456789"
    step = run_step(tmp_path, gate(server, token=wrong))
    assert step.code == 2
    assert "token: the server refused the request (401)" in step.stdout
    shown = step.stdout.replace(f"::add-mask::{wrong}\n", "") + step.stderr + step.summary
    assert wrong not in shown and TOKEN not in shown
    assert step.outputs == {}


def test_bad_input_names_the_input_and_decides_nothing(tmp_path: Path, server: Server) -> None:
    before = len(server.get("/api/v1/decisions?service=nothing-decided&limit=200")["items"])
    step = run_step(tmp_path, gate(server, service="nothing-decided", feature_risk="EXTREME"))
    assert step.code == 2
    assert "feature-risk: 'EXTREME' is not allowed (allowed: LOW, MEDIUM, HIGH)" in step.stdout
    assert step.outputs == {}
    assert "Release gate: failed" in step.summary
    after = len(server.get("/api/v1/decisions?service=nothing-decided&limit=200")["items"])
    assert after == before


def test_a_field_the_server_refuses_is_named_by_its_input(tmp_path: Path, server: Server) -> None:
    step = run_step(tmp_path, gate(server, service="!bad name"), actions=False)
    assert step.code == 2
    assert step.stderr.startswith("error: service: ")
    assert step.outputs == {}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"token": TOKEN}, "token: given without server-url"),
        ({"server-url": "ftp://gate.example.com"}, "server-url: must be an http://"),
        (
            {"server-url": "https://ci:hunter2@gate.example.com"},
            "server-url: must not hold a user or a password",
        ),
        (
            {"server-url": "http://gate.example.com", "token": TOKEN},
            "server-url: the token is sent only over https",
        ),
        ({"server-url": "http://127.0.0.1:9", "db": "sqlite:///x.db"}, "db: only for a gate"),
        ({"on-delay": "sometimes"}, "on-delay: 'sometimes' is not allowed (allowed: fail, wait)"),
        ({"max-wait-minutes": "nan"}, "max-wait-minutes: must be a number"),
        ({"mode": "deploy"}, "mode: 'deploy' is not allowed (allowed: decide, outcome)"),
        ({"service": ""}, "service: is required"),
        ({"token": "two words here, padded"}, "token: must be visible ASCII"),
    ],
)
def test_inputs_that_do_not_fit_are_refused_before_anything_is_asked(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    base = {"service": "web", "feature-risk": "LOW", "criticality": "LOW"}
    step = run_step(tmp_path, {**base, **inputs}, actions=False)
    assert step.code == 2, step.stderr
    assert message in step.stderr
    assert step.outputs == {}
    assert TOKEN not in step.stdout + step.stderr


def test_the_outcome_mode_records_once_and_a_rerun_is_not_an_error(
    tmp_path: Path, server: Server
) -> None:
    decided = run_step(tmp_path, gate(server))
    release_id = decided.outputs["release_id"]
    outcome = {"mode": "outcome", "server-url": server.url, "token": TOKEN}
    outcome["release-id"] = release_id
    first = run_step(tmp_path, {**outcome, "result": "success", "notes": "deployed"})
    assert first.code == 0, first.stdout + first.stderr
    assert "outcome success recorded" in first.stdout
    assert "Release outcome: success" in first.summary
    record = server.get(f"/api/v1/decisions/{release_id}")
    assert record["outcome"]["result"] == "success"
    assert record["outcome"]["notes"] == "deployed"
    again = run_step(tmp_path, {**outcome, "result": "success"})
    assert again.code == 0 and "was already recorded" in again.stdout
    other = run_step(tmp_path, {**outcome, "result": "incident"})
    assert other.code == 2 and "set replace: true" in other.stdout
    replaced = run_step(tmp_path, {**outcome, "result": "incident", "replace": "true"})
    assert replaced.code == 0, replaced.stdout
    assert server.get(f"/api/v1/decisions/{release_id}")["outcome"]["result"] == "incident"
    unknown = run_step(tmp_path, {**outcome, "release-id": "no-such-id", "result": "success"})
    assert unknown.code == 2
    for step in (first, again, other, replaced, unknown):
        assert TOKEN not in step.stdout.replace(f"::add-mask::{TOKEN}\n", "") + step.stderr


def test_an_outcome_for_a_no_go_is_refused_saying_why(tmp_path: Path, server: Server) -> None:
    refused = run_step(tmp_path, gate(server, criticality="HIGH"))
    assert refused.outputs["decision"] == "NO_GO"
    outcome = {"mode": "outcome", "server-url": server.url, "token": TOKEN}
    outcome |= {"release-id": refused.outputs["release_id"], "result": "success"}
    step = run_step(tmp_path, outcome)
    assert step.code == 2
    assert "is NO_GO: nothing was deployed" in step.stdout


# -- waiting for a window (in-process: the clock and the sleep are the test's) ---------------


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def runtime_for(environ: dict[str, str], fake: FakeTime, out: io.StringIO) -> Runtime:
    return Runtime(environ, Log(environ, out), fake.clock, fake.sleep)


def test_wait_sleeps_until_the_window_and_asks_again_delayed_once_more(
    tmp_path: Path, server: Server
) -> None:
    """The server decides for its own now, which the test's clock does not move: every
    re-ask is still inside the freeze, so DELAY follows DELAY until the policy's
    max_delays (2) leaves GO or NO_GO, and inside a freeze that is NO_GO."""
    fake = FakeTime(datetime.now(UTC))
    started = fake.now
    outputs = tmp_path / "output"
    environ = {input_variable(k): v for k, v in gate(server, env="frozen").items()}
    environ.update(
        {
            input_variable("on-delay"): "wait",
            input_variable("max-wait-minutes"): "4320",
            input_variable("ref"): f"wait-{uuid.uuid4().hex}",
            "GITHUB_OUTPUT": str(outputs),
        }
    )
    out = io.StringIO()
    code = action.run(runtime_for(environ, fake, out))
    assert code == 4, out.getvalue()
    ref = environ[input_variable("ref")]
    asked = sorted(
        (
            record
            for record in server.get("/api/v1/decisions?limit=200")["items"]
            if record["request"]["ref"] == ref
        ),
        key=lambda record: record["request"]["delays"],
    )
    assert [record["request"]["delays"] for record in asked] == [0, 1, 2]
    assert [record["decision"] for record in asked] == ["DELAY", "DELAY", "NO_GO"]
    assert asked[0]["superseded_by"] == asked[1]["release_id"]
    window = datetime.fromisoformat(asked[0]["next_window"])
    assert window >= server.freeze_end
    assert fake.slept[0] == (window - started).total_seconds()
    published = parse_outputs(outputs.read_bytes().decode("utf-8"))
    assert (published["decision"], published["release_id"]) == ("NO_GO", asked[2]["release_id"])


class ScriptedBackend:
    """Answers from a list, recording every question."""

    def __init__(self, answers: list[Verdict]) -> None:
        self.answers = answers
        self.asked: list[Ask] = []

    def decide(self, ask: Ask) -> Verdict:
        self.asked.append(ask)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]

    def record_outcome(
        self, release_id: str, result: str, notes: str | None, replace: bool
    ) -> bool:
        raise AssertionError("not asked for")

    def close(self) -> None:
        pass


def _ask() -> Ask:
    return Ask("web", "prod", "LOW", "LOW", ref="r")


def test_wait_asks_again_a_bounded_number_of_times() -> None:
    fake = FakeTime(datetime(2026, 12, 1, 9, tzinfo=UTC))
    past = fake.now - timedelta(hours=1)  # a window already gone: no sleep, ask again
    backend = ScriptedBackend([Verdict("DELAY", "id", "wait", past, 0)])
    runtime = runtime_for({}, fake, io.StringIO())
    verdict, reasks = action.ask_until_decided(backend, _ask(), True, timedelta(hours=1), runtime)
    assert verdict.decision == "DELAY"
    assert reasks == action.MAX_REASKS
    assert [ask.delays for ask in backend.asked] == list(range(action.MAX_REASKS + 1))


@pytest.mark.parametrize("wait", [True, False])
def test_a_delay_whose_window_has_passed_is_asked_again_at_once(wait: bool) -> None:
    fake = FakeTime(datetime(2026, 12, 1, 9, tzinfo=UTC))
    stale = Verdict("DELAY", "old", "wait", fake.now - timedelta(minutes=5), 1)
    backend = ScriptedBackend([stale, Verdict("GO", "new", "go", None, 2)])
    runtime = runtime_for({}, fake, io.StringIO())
    verdict, reasks = action.ask_until_decided(backend, _ask(), wait, timedelta(0), runtime)
    assert (verdict.release_id, reasks) == ("new", 1)
    assert fake.slept == []
    assert [ask.delays for ask in backend.asked] == [0, 2]


def test_without_wait_a_delay_to_come_is_the_answer() -> None:
    fake = FakeTime(datetime(2026, 12, 1, 9, tzinfo=UTC))
    backend = ScriptedBackend([Verdict("DELAY", "d", "wait", fake.now + timedelta(hours=1), 0)])
    runtime = runtime_for({}, fake, io.StringIO())
    verdict, reasks = action.ask_until_decided(backend, _ask(), False, timedelta(hours=2), runtime)
    assert (verdict.decision, reasks, fake.slept) == ("DELAY", 0, [])


def test_the_wait_budget_counts_from_the_first_answer() -> None:
    fake = FakeTime(datetime(2026, 12, 1, 9, tzinfo=UTC))
    first = Verdict("DELAY", "a", "wait", fake.now + timedelta(minutes=40), 0)
    second = Verdict("DELAY", "b", "wait", fake.now + timedelta(minutes=70), 1)
    backend = ScriptedBackend([first, second])
    runtime = runtime_for({}, fake, io.StringIO())
    verdict, reasks = action.ask_until_decided(
        backend, _ask(), True, timedelta(minutes=60), runtime
    )
    assert (verdict.release_id, reasks) == ("b", 1)  # the second window is past the budget
    assert fake.slept == [2400.0]
    assert backend.asked[1].delays == 1


# -- the HTTP client against a scripted server ------------------------------------------------


def _record(decision: str = "GO", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "release_id": "r-1",
        "decision": decision,
        "reason": "because",
        "next_window": None,
        "request": {"delays": 0},
    }
    data.update(extra)
    return data


def test_the_client_retries_a_503_after_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/v1/decisions", method="POST").respond_with_json(
        {"detail": []}, status=503, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/api/v1/decisions", method="POST").respond_with_json(
        _record(), status=201
    )
    slept: list[float] = []
    backend = ServerBackend(httpserver.url_for("/"), TOKEN, sleep=slept.append)
    assert backend.decide(_ask()).decision == "GO"
    assert slept == [7.0]
    sent = httpserver.log[0][0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    sent_body = json.loads(sent.data)
    assert sent_body["ref"] == "r"
    assert "at" not in sent_body  # now, in the team's time zone: the server's to say


def test_an_unreachable_server_is_an_error_after_the_retries() -> None:
    slept: list[float] = []
    backend = ServerBackend("http://127.0.0.1:9", TOKEN, sleep=slept.append, timeout=5)
    with pytest.raises(GateError) as caught:
        backend.decide(_ask())
    assert caught.value.exit_code == 1
    assert "cannot reach the release-agent server at http://127.0.0.1:9" in caught.value.message
    assert slept == [2.0, 4.0]
    assert TOKEN not in caught.value.message


def test_a_redirect_is_not_followed_so_the_token_stays(httpserver: HTTPServer) -> None:
    elsewhere = httpserver.url_for("/elsewhere")
    httpserver.expect_request("/api/v1/decisions").respond_with_response(
        Response(status=307, headers={"Location": elsewhere})
    )
    backend = ServerBackend(httpserver.url_for("/"), TOKEN, sleep=lambda _s: None)
    with pytest.raises(GateError) as caught:
        backend.decide(_ask())
    assert caught.value.exit_code == 2 and "redirect" in caught.value.message
    assert [entry[0].path for entry in httpserver.log] == ["/api/v1/decisions"]


@pytest.mark.parametrize(
    "answer",
    [
        _record("MAYBE"),
        _record("go"),
        _record("GO", release_id=""),
        _record("DELAY"),  # without a window
        _record("GO", next_window="tomorrow"),
        _record("GO", next_window="2026-12-01T10:00:00"),  # no offset
        ["GO"],
        "GO",
    ],
)
def test_an_answer_that_is_not_a_decision_never_passes(httpserver: HTTPServer, answer: Any) -> None:
    httpserver.expect_request("/api/v1/decisions").respond_with_json(answer, status=201)
    backend = ServerBackend(httpserver.url_for("/"), None, sleep=lambda _s: None)
    with pytest.raises(GateError) as caught:
        backend.decide(_ask())
    assert caught.value.exit_code == 1


def test_a_garbled_answer_fails_the_step_and_puts_out_no_decision(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/v1/decisions").respond_with_data("<html>GO</html>", 200)
    step = run_step(
        tmp_path,
        {"server-url": httpserver.url_for("/"), "service": "web", "feature-risk": "LOW"}
        | {"criticality": "LOW"},
    )
    assert step.code == 1
    assert step.outputs == {}
    assert "not a decision record" in step.stdout


# -- local mode -------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> dict[str, str]:
    end = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    policy = write_policy(tmp_path / "policy.toml", end)
    return {"db": f"sqlite:///{tmp_path / 'local.db'}", "policy": str(policy)}


@pytest.mark.parametrize(
    ("env", "criticality", "decision", "code"),
    [("prod", "LOW", "GO", 0), ("prod", "HIGH", "NO_GO", 4), ("frozen", "LOW", "DELAY", 3)],
)
def test_local_mode_decides_on_the_runner(
    tmp_path: Path, local: dict[str, str], env: str, criticality: str, decision: str, code: int
) -> None:
    inputs = {"service": "web", "env": env, "feature-risk": "LOW", "criticality": criticality}
    step = run_step(tmp_path, {**inputs, **local}, sha="abc123")
    assert step.code == code, step.stdout + step.stderr
    assert step.outputs["decision"] == decision
    assert bool(step.outputs["next_window"]) == (decision == "DELAY")
    from release_agent.memory.store import Store

    store = Store.open(local["db"])
    try:
        record = store.get_decision(step.outputs["release_id"])
    finally:
        store.close()
    assert record.decision.value == decision
    assert record.request.ref == f"abc123:{env}"
    assert "| Gate | local |" in step.summary


def test_local_mode_decides_for_now_in_the_policys_time_zone(
    tmp_path: Path, local: dict[str, str]
) -> None:
    policy = Path(local["policy"])
    policy.write_text('timezone = "Asia/Kolkata"\n' + policy.read_text(encoding="utf-8"))
    inputs = {"service": "web", "feature-risk": "LOW", "criticality": "LOW", **local}
    step = run_step(tmp_path, inputs)
    assert step.code == 0, step.stdout + step.stderr
    from release_agent.memory.store import Store

    store = Store.open(local["db"])
    try:
        record = store.get_decision(step.outputs["release_id"])
    finally:
        store.close()
    assert record.request.at.utcoffset() == timedelta(hours=5, minutes=30)


def test_local_mode_records_the_outcome(tmp_path: Path, local: dict[str, str]) -> None:
    inputs = {"service": "web", "feature-risk": "LOW", "criticality": "LOW", **local}
    decided = run_step(tmp_path, inputs)
    assert decided.code == 0, decided.stderr
    outcome = {"mode": "outcome", "release-id": decided.outputs["release_id"], **local}
    step = run_step(tmp_path, {**outcome, "result": "rolled_back"})
    assert step.code == 0, step.stdout + step.stderr
    assert run_step(tmp_path, {**outcome, "result": "success"}).code == 2
    from release_agent.memory.store import Store

    store = Store.open(local["db"])
    try:
        record = store.get_decision(decided.outputs["release_id"])
    finally:
        store.close()
    assert record.outcome is not None and record.outcome.result.value == "rolled_back"


def test_local_mode_masks_the_database_password(tmp_path: Path) -> None:
    url = "postgresql://gate:hunter2-secret@127.0.0.1:9/db"
    step = run_step(
        tmp_path, {"service": "web", "feature-risk": "LOW", "criticality": "LOW"} | {"db": url}
    )
    assert step.code in (1, 2)
    assert step.stdout.splitlines()[0] == "::add-mask::hunter2-secret"
    rest = "\n".join(step.stdout.splitlines()[1:]) + step.stderr + step.summary
    assert "hunter2-secret" not in rest


# -- untrusted text in the outputs, the summary and the log -----------------------------------

PIECES = [*"ab |\\`*_[]()<>&#!:%-=.\r\n\t\x1b\u202e\u2028\x85 ", "ghadelimiter_", "::", "##["]
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=40)
"""Text that tries to end an output block, run a workflow command or become markup."""


@given(values=st.dictionaries(st.sampled_from(OUTPUTS), HOSTILE, min_size=1))
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_value_comes_back_from_the_output_file_as_written(
    tmp_path: Path, values: dict[str, str]
) -> None:
    path = tmp_path / f"output-{uuid.uuid4().hex}"
    write_outputs(path, values)
    expected = {name: (value + "\n").replace("\r\n", "\n")[:-1] for name, value in values.items()}
    assert parse_outputs(path.read_bytes().decode("utf-8")) == expected


def test_a_value_holding_its_delimiter_gets_another(tmp_path: Path, monkeypatch: Any) -> None:
    from release_agent.integrations import workflow_io

    tokens = iter(["aa", "aa", "bb"])
    monkeypatch.setattr(workflow_io.secrets, "token_hex", lambda _n: next(tokens))
    path = tmp_path / "output"
    write_outputs(path, {"reason": "x\nghadelimiter_aa\ndecision=GO"})
    assert parse_outputs(path.read_bytes().decode()) == {
        "reason": "x\nghadelimiter_aa\ndecision=GO"
    }
    assert "reason<<ghadelimiter_bb\n" in path.read_bytes().decode()


def _text_of(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


MARKDOWN = MarkdownIt("commonmark").enable("table")


@given(text=HOSTILE)
@settings(max_examples=300)
def test_escaped_text_renders_as_itself_and_as_nothing_else(text: str) -> None:
    rendered = MARKDOWN.render(f"| a | b |\n| --- | --- |\n| x | {markdown_text(text)} |\n")
    cells = re.findall(r"<td>(.*?)</td>", rendered, flags=re.S)
    assert len(cells) == 2, rendered
    assert _text_of(cells[1]) == visible(text).strip()
    row = ["tr", "td", "td"]
    assert re.findall(r"<(\w+)", rendered) == ["table", "thead", "tr", "th", "th", "tbody", *row]


@given(text=HOSTILE)
@settings(max_examples=300)
def test_an_escaped_paragraph_renders_as_its_lines(text: str) -> None:
    rendered = MARKDOWN.render(markdown_paragraph(text) + "\n")
    tags = set(re.findall(r"<(\w+)", rendered))
    assert tags <= {"p", "br"}, rendered
    lines = [visible(line.strip()) for line in text.splitlines() if line.strip()]
    assert [line.strip() for line in _text_of(rendered).splitlines()] == (lines or [])


@given(reason=HOSTILE, release_id=HOSTILE)
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_hostile_answer_sets_no_other_output_and_runs_no_command(
    tmp_path: Path, reason: str, release_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    verdict = Verdict("NO_GO", release_id or "r", reason, None, 0)
    backend = ScriptedBackend([verdict])
    monkeypatch.setattr(action, "backend_for", lambda _inputs, _runtime: backend)
    outputs, summary = tmp_path / f"o-{uuid.uuid4().hex}", tmp_path / f"s-{uuid.uuid4().hex}"
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        input_variable("service"): "web",
        input_variable("feature-risk"): "LOW",
        input_variable("criticality"): "LOW",
    }
    out = io.StringIO()
    assert action.run(runtime_for(environ, FakeTime(datetime.now(UTC)), out)) == 4
    published = parse_outputs(outputs.read_bytes().decode("utf-8"))
    assert set(published) == set(OUTPUTS)
    assert published["reason"] == (reason + "\n").replace("\r\n", "\n")[:-1]
    assert published["decision"] == "NO_GO"
    assert commands_outside_stops(out.getvalue()) == ["stop-commands", "error"]
    rendered = MARKDOWN.render(summary.read_bytes().decode("utf-8"))
    assert set(re.findall(r"<(\w+)", rendered)) <= {
        "h3", "table", "thead", "tbody", "tr", "th", "td", "p", "strong", "br", "blockquote"
    }  # fmt: skip


# -- action.yml against the module ---------------------------------------------------------


def _action_yml() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "action.yml").read_bytes().decode("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _inputs_read_by_the_module() -> set[str]:
    """Every literal input name the module passes to an :class:`Inputs` method."""
    tree = ast.parse(Path(action.__file__).read_bytes().decode("utf-8"))
    methods = {name for name in vars(Inputs) if not name.startswith("_")}
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in methods
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "inputs"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_action_yml_declares_every_input_the_module_reads_and_no_other() -> None:
    spec = _action_yml()
    declared = spec["inputs"]
    assert _inputs_read_by_the_module() == set(INPUTS)
    assert set(declared) == set(INPUTS) | {"python-version"}
    for name, default in INPUTS.items():
        assert str(declared[name].get("default", "")) == default, name
        assert declared[name]["description"]


def test_every_input_reaches_the_module_through_the_environment_only() -> None:
    steps = _action_yml()["runs"]["steps"]
    gate_step = next(step for step in steps if step.get("id") == "gate")
    assert gate_step["env"] == {
        input_variable(name): f"${{{{ inputs.{name} }}}}" for name in INPUTS
    }
    assert "python -m release_agent.integrations.action" in gate_step["run"]
    for step in steps:  # an input pasted into a script could inject commands
        assert "${{" not in step.get("run", ""), step
    setup = next(step for step in steps if str(step.get("uses", "")).startswith("actions/setup"))
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"


def test_action_yml_declares_the_outputs_the_module_writes() -> None:
    spec = _action_yml()
    assert spec["runs"]["using"] == "composite"
    assert {name: entry["value"] for name, entry in spec["outputs"].items()} == {
        name: f"${{{{ steps.gate.outputs.{name} }}}}" for name in OUTPUTS
    }


def test_a_hostile_error_message_from_the_server_runs_no_command(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    message = "bad\n::add-mask::x\n::set-env name=A::1\n##[group]x\r\n%0A::warning::y"
    problem = {"detail": [{"field": "service", "message": message, "allowed": None}]}
    httpserver.expect_request("/api/v1/decisions").respond_with_json(problem, status=422)
    inputs = {"server-url": httpserver.url_for("/"), "service": "web", "feature-risk": "LOW"}
    step = run_step(tmp_path, inputs | {"criticality": "LOW"})
    assert step.code == 2
    assert commands_outside_stops(step.stdout) == ["error"]
    assert step.stdout.startswith("::error title=release gate::service: bad%0A::add-mask::x")
    assert step.outputs == {}


def test_the_composite_gate_step_runs_as_written(tmp_path: Path, server: Server) -> None:
    """The gate step's own script and env (``${{ inputs.x }}`` filled in as the runner
    does, defaults included), run by bash from another directory."""
    spec = _action_yml()
    (gate_step,) = [step for step in spec["runs"]["steps"] if step.get("id") == "gate"]
    given = gate(server, criticality="HIGH")
    values = {
        name: given.get(name, str(entry.get("default", "")))
        for name, entry in spec["inputs"].items()
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INPUT_", "GITHUB_", "PYTHONPATH"))
    }
    for key, value in gate_step["env"].items():
        found = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value)
        assert found, value
        env[key] = values[found.group(1)]
    outputs = tmp_path / "output"
    env |= {
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "5ca1ab1e",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    done = subprocess.run(
        ["bash", "-e", "-c", gate_step["run"]],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert parse_outputs(outputs.read_bytes().decode("utf-8"))["decision"] == "NO_GO"


def test_a_secret_of_several_lines_is_masked_line_by_line() -> None:
    out = io.StringIO()
    Log({"GITHUB_ACTIONS": "true"}, out).mask("first\nsecond\r\n")
    assert out.getvalue() == "::add-mask::first\n::add-mask::second\n"
    quiet = io.StringIO()
    Log({}, quiet).mask("first")
    assert quiet.getvalue() == ""


def test_a_server_that_hangs_up_or_garbles_http_is_an_error(tmp_path: Path) -> None:
    replies = [b"", b"NOT HTTP AT ALL\r\n\r\n", b""]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve() -> None:
            for reply in replies:
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(reply)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        slept: list[float] = []
        backend = ServerBackend(url, TOKEN, sleep=slept.append, timeout=30)
        with pytest.raises(GateError) as caught:
            backend.decide(_ask())
        thread.join(timeout=30)
    assert caught.value.exit_code == 1
    assert caught.value.message.startswith(f"cannot reach the release-agent server at {url}")
    assert slept == [2.0, 4.0]
