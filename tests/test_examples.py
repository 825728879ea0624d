"""The CI examples in ``examples/``: each is checked against its platform's published schema
(the copies ``check-jsonschema`` ships, so offline), for jobs that reference each other
consistently, and by running what can run here: the GitHub workflow's action steps with
their own inputs against a real server, the GitLab jobs' scripts with bash and the real
``release-agent`` command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from check_jsonschema.cli.main_command import main as check_jsonschema
from click.testing import CliRunner

from action_support import (
    ROOT,
    TOKEN,
    Server,
    freeze_end_from_now,
    run_step,
    serving,
    write_policy,
)
from release_agent.cli import main as cli
from release_agent.integrations.action import OUTPUTS
from release_agent.integrations.gate_backends import RESULTS
from release_agent.memory.store import Store

GITHUB = ROOT / "examples" / "github" / "deploy.yml"
GITLAB = ROOT / "examples" / "gitlab" / ".gitlab-ci.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        (GITHUB, "vendor.github-workflows"),
        (ROOT / "action.yml", "vendor.github-actions"),
        (GITLAB, "vendor.gitlab-ci"),
    ],
)
def test_each_file_meets_its_platforms_schema(path: Path, schema: str) -> None:
    result = CliRunner().invoke(check_jsonschema, ["--builtin-schema", schema, str(path)])
    assert result.exit_code == 0, result.output


def test_the_readmes_exist_beside_the_examples() -> None:
    for folder in ("github", "gitlab"):
        text = (ROOT / "examples" / folder / "README.md").read_text(encoding="utf-8")
        assert text.startswith("# ")


# -- GitHub -----------------------------------------------------------------------------------


def _action_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).endswith(ACTION_TAG)]


ACTION_TAG = "/release-agent@v0.1.0"


def test_the_workflow_gates_deploys_and_reports_consistently() -> None:
    jobs = load(GITHUB)["jobs"]
    gate, deploy = jobs["gate"], jobs["deploy"]
    (gate_step,) = _action_steps(gate)
    (outcome_step,) = _action_steps(deploy)
    declared = set(load(ROOT / "action.yml")["inputs"])
    for step in (gate_step, outcome_step):
        assert set(step["with"]) <= declared, set(step["with"]) - declared
    assert {"service", "feature-risk", "criticality"} <= set(gate_step["with"])
    assert outcome_step["with"]["mode"] == "outcome"
    assert {"release-id", "result"} <= set(outcome_step["with"])
    # The gate job puts out what its action step puts out.
    assert set(gate["outputs"]) <= set(OUTPUTS)
    for name, value in gate["outputs"].items():
        assert value == f"${{{{ steps.{gate_step['id']}.outputs.{name} }}}}"
    # The deploy job waits for the gate and runs only on GO.
    assert deploy["needs"] == "gate"
    assert deploy["if"] == (
        "needs.gate.outputs.decision == 'GO' || needs.gate.outputs.shadow == 'true'"
    )
    assert "environment" in deploy
    text = GITHUB.read_text(encoding="utf-8")
    for name in re.findall(r"needs\.gate\.outputs\.(\w+)", text):
        assert name in gate["outputs"], name
    step_ids = {step.get("id") for step in deploy["steps"]}
    for name in re.findall(r"steps\.([\w-]+)\.outcome", yaml.safe_dump(deploy)):
        assert name in step_ids, name
    # The outcome is reported after a failure too, with results the API accepts.
    assert "always()" in outcome_step["if"]
    result = outcome_step["with"]["result"]
    assert set(re.findall(r"'(\w+)'", result)) - {"success"} <= set(RESULTS)
    assert outcome_step["with"]["release-id"] == "${{ needs.gate.outputs.release_id }}"
    # The gate job outlives the longest wait it allows.
    assert gate["timeout-minutes"] > int(gate_step["with"]["max-wait-minutes"])


def _resolve(value: object, context: dict[str, str]) -> str:
    """``value`` with each ``${{ expression }}`` replaced by ``context[expression]``."""

    def one(match: re.Match[str]) -> str:
        assert match.group(1) in context, f"no test value for {match.group(1)!r}"
        return context[match.group(1)]

    return EXPRESSION.sub(one, str(value))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("examples-server")) as running:
        yield running


def test_the_workflows_action_steps_run_with_their_own_inputs(
    tmp_path: Path, server: Server
) -> None:
    jobs = load(GITHUB)["jobs"]
    context = {
        "vars.RELEASE_AGENT_URL": server.url,
        "secrets.RELEASE_AGENT_TOKEN": TOKEN,
        "inputs.feature-risk || 'MEDIUM'": "MEDIUM",
        "github.workflow": "deploy",
        "github.run_id": "4242",
        "github.run_attempt": "1",
        "github.actor": "octocat",
    }
    (gate_step,) = _action_steps(jobs["gate"])
    inputs = {name: _resolve(value, context) for name, value in gate_step["with"].items()}
    inputs["max-wait-minutes"] = "0"  # the example waits up to 2 h for a window
    gated = run_step(tmp_path, inputs, sha="feedbeef")
    # checkout is HIGH criticality: under the test policy its failures cost 1e9.
    assert gated.code == 4, gated.stdout + gated.stderr
    assert gated.outputs["decision"] == "NO_GO"
    record = server.get(f"/api/v1/decisions/{gated.outputs['release_id']}")
    assert record["request"]["ref"] == "feedbeef:production"
    assert record["request"]["clashes"] == ["payments"]

    # A NO_GO skips the deploy job, so its outcome step: report on a GO instead.
    inputs["criticality"] = "LOW"
    gated = run_step(tmp_path, inputs, sha="feedbeef2")
    assert gated.outputs["decision"] == "GO", gated.stdout + gated.stderr
    context["needs.gate.outputs.release_id"] = gated.outputs["release_id"]
    for status, result in (("failure", "rolled_back"), ("success", "success")):
        (outcome_step,) = _action_steps(jobs["deploy"])
        expression = EXPRESSION.fullmatch(outcome_step["with"]["result"])
        assert expression is not None
        context[expression.group(1)] = _evaluate_status(expression.group(1), status)
        inputs = {name: _resolve(v, context) for name, v in outcome_step["with"].items()}
        inputs["replace"] = "true"
        reported = run_step(tmp_path, inputs)
        assert reported.code == 0, reported.stdout + reported.stderr
        record = server.get(f"/api/v1/decisions/{gated.outputs['release_id']}")
        assert record["outcome"]["result"] == result


def _evaluate_status(expression: str, status: str) -> str:
    """``job.status == 'success' && 'A' || 'B'`` for a job status, as Actions does."""
    found = re.fullmatch(r"job\.status == '(\w+)' && '(\w+)' \|\| '(\w+)'", expression)
    assert found, expression
    wanted, then, otherwise = found.groups()
    return then if status == wanted else otherwise


# -- GitLab -----------------------------------------------------------------------------------


def gitlab_jobs(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    reserved = {"stages", "variables", "default", "include", "workflow", "image", "services"}
    return {
        name: job
        for name, job in spec.items()
        if name not in reserved and not name.startswith(".") and isinstance(job, dict)
    }


def merged(spec: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """``job`` with what it ``extends`` (hidden jobs, in order, the job's own keys last)."""
    parents = job.get("extends", [])
    result: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        assert parent in spec, f"extends names no job: {parent}"
        result.update(merged(spec, spec[parent]))
    result.update({key: value for key, value in job.items() if key != "extends"})
    return result


def test_the_gitlab_jobs_reference_each_other_consistently() -> None:
    spec = load(GITLAB)
    stages = spec["stages"]
    jobs = {name: merged(spec, job) for name, job in gitlab_jobs(spec).items()}
    assert set(jobs) == {"gate", "deploy", "report-success", "report-failure"}
    for name, job in jobs.items():
        assert job["stage"] in stages, name
        for needed in job.get("needs", []):
            assert needed in jobs, f"{name} needs {needed}"
            assert stages.index(jobs[needed]["stage"]) < stages.index(job["stage"])
        # In a GitLab deploy freeze no job of the release is created.
        first = job["rules"][0]
        assert first == {"if": "$CI_DEPLOY_FREEZE", "when": "never"}, name
        assert "when" not in job, f"{name}: `when` goes in its rules"
    assert jobs["deploy"]["needs"] == ["gate"]
    assert jobs["deploy"]["environment"]["name"] == jobs["gate"]["environment"]["name"]
    assert jobs["gate"]["environment"]["action"] == "prepare"
    assert jobs["report-success"]["rules"][-1]["when"] == "on_success"
    assert jobs["report-failure"]["rules"][-1]["when"] == "on_failure"
    for name in ("report-success", "report-failure"):
        assert set(jobs[name]["needs"]) == {"gate", "deploy"}
    # What the later jobs read from the gate's dotenv report, the gate writes.
    gate_script = "\n".join(jobs["gate"]["script"])
    assert jobs["gate"]["artifacts"]["reports"]["dotenv"] == "gate.env"
    later = "\n".join("\n".join(jobs[name]["script"]) for name in jobs if name != "gate")
    for variable in set(re.findall(r"\$(RELEASE_ID|DECISION)\b", later)):
        assert re.search(rf"(\b|\\n){variable}=", gate_script), variable
    assert '--ref "$CI_COMMIT_SHA:$CI_ENVIRONMENT_NAME"' in gate_script
    # The gate outlives the longest wait it allows.
    hours = int(jobs["gate"]["timeout"].removesuffix("h"))
    assert hours * 3600 > int(spec["variables"]["GATE_MAX_WAIT_SECONDS"])


def _commands(script: str) -> Iterator[list[str]]:
    """Each ``release-agent`` command in ``script``, as its words (continuations joined)."""
    for line in script.replace("\\\n", " ").splitlines():
        if "release-agent " not in line or line.lstrip().startswith("#"):
            continue
        words = shlex.split(line[line.index("release-agent ") :], comments=True)
        end = next((i for i, word in enumerate(words) if word in {">", "|", "&&", ";"}), None)
        yield words[:end]


def _options_of(command: click.Command) -> set[str]:
    return {option for param in command.params for option in getattr(param, "opts", [])}


def test_the_gitlab_scripts_call_real_options_of_real_commands() -> None:
    spec = load(GITLAB)
    seen = []
    for job in gitlab_jobs(spec).values():
        script = "\n".join(merged(spec, job).get("script", []))
        for words in _commands(script):
            name = words[1]
            assert isinstance(cli, click.Group) and name in cli.commands, words
            command = cli.commands[name]
            given = {word for word in words[2:] if word.startswith("--")}
            assert given <= _options_of(command), given - _options_of(command)
            required = {
                param.opts[0]
                for param in command.params
                if param.required and isinstance(param, click.Option)
            }
            assert required <= given, required - given
            seen.append(name)
    assert sorted(set(seen)) == ["decide", "outcome"]


# -- running the GitLab jobs' scripts ---------------------------------------------------------


def run_job(
    name: str, tmp_path: Path, variables: dict[str, str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """The job's script as GitLab's bash runs it (``set -eo pipefail``, one shell), with
    the file's variables, ``variables`` and ``release-agent`` on the PATH."""
    spec = load(GITLAB)
    job = merged(spec, spec[name])
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RELEASE_AGENT_", "CI_", "GITHUB_"))
    }
    env.update({key: str(value) for key, value in spec["variables"].items()})
    env.update(variables)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    script = "set -eo pipefail\n" + "\n".join(job["script"])
    return subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )


def dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines())
    return {key: value for key, value in pairs}


@pytest.fixture
def gitlab(tmp_path: Path) -> dict[str, str]:
    policy = write_policy(tmp_path / "policy.toml", freeze_end_from_now())
    return {
        "RELEASE_AGENT_DB": f"sqlite:///{tmp_path / 'gitlab.db'}",
        "RELEASE_AGENT_POLICY": str(policy),
        "CI_COMMIT_SHA": uuid.uuid4().hex,
        "CI_PIPELINE_ID": "777",
        "GITLAB_USER_LOGIN": "ada",
        "CI_ENVIRONMENT_NAME": "production",
    }


@pytest.mark.parametrize(
    ("overrides", "code", "decision"),
    [
        ({"CRITICALITY": "LOW"}, 0, "GO"),
        ({"CRITICALITY": "HIGH"}, 4, "NO_GO"),
        # The freeze ends in 2 h, after GATE_MAX_WAIT_SECONDS: not waited out.
        ({"CRITICALITY": "LOW", "CI_ENVIRONMENT_NAME": "frozen"}, 3, "DELAY"),
    ],
)
def test_the_gate_job_maps_each_decision_to_its_exit_status(
    tmp_path: Path, gitlab: dict[str, str], overrides: dict[str, str], code: int, decision: str
) -> None:
    variables = gitlab | overrides
    done = run_job("gate", tmp_path, variables, tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    written = dotenv(tmp_path / "gate.env")
    assert written["DECISION"] == decision
    store = Store.open(gitlab["RELEASE_AGENT_DB"])
    try:
        record = store.get_decision(written["RELEASE_ID"])
    finally:
        store.close()
    env = variables["CI_ENVIRONMENT_NAME"]
    assert record.request.ref == f"{gitlab['CI_COMMIT_SHA']}:{env}"
    assert record.request.notes == "GitLab pipeline 777 by ada"
    assert record.decision.value == decision
    assert (tmp_path / "decision.json").exists()


def test_bad_input_fails_the_gate_job_saying_why_and_hands_on_nothing(
    tmp_path: Path, gitlab: dict[str, str]
) -> None:
    done = run_job("gate", tmp_path, gitlab | {"FEATURE_RISK": "EXTREME"}, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: Invalid value for '--risk': 'EXTREME' is not one of" in done.stdout
    assert "the gate failed (exit 2): not deploying" in done.stdout
    assert not (tmp_path / "gate.env").exists()


def test_the_gate_job_asks_once_per_commit_and_environment(
    tmp_path: Path, gitlab: dict[str, str]
) -> None:
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    variables = gitlab | {"CRITICALITY": "LOW"}
    assert run_job("gate", tmp_path, variables, first).returncode == 0
    assert run_job("gate", tmp_path, variables, second).returncode == 0
    assert dotenv(first / "gate.env") == dotenv(second / "gate.env")


def test_the_report_jobs_record_the_deploys_outcome(tmp_path: Path, gitlab: dict[str, str]) -> None:
    gated = run_job("gate", tmp_path, gitlab | {"CRITICALITY": "LOW"}, tmp_path)
    assert gated.returncode == 0, gated.stderr
    written = dotenv(tmp_path / "gate.env")
    done = run_job("report-success", tmp_path, gitlab | written, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    other = gitlab | {"CRITICALITY": "LOW", "CI_COMMIT_SHA": uuid.uuid4().hex}
    (tmp_path / "b").mkdir()
    assert run_job("gate", tmp_path, other, tmp_path / "b").returncode == 0
    failed = dotenv(tmp_path / "b" / "gate.env")
    done = run_job("report-failure", tmp_path, other | failed, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store.open(gitlab["RELEASE_AGENT_DB"])
    try:
        succeeded = store.get_decision(written["RELEASE_ID"]).outcome
        rolled_back = store.get_decision(failed["RELEASE_ID"]).outcome
    finally:
        store.close()
    assert succeeded is not None and succeeded.result.value == "success"
    assert rolled_back is not None and rolled_back.result.value == "rolled_back"
    assert rolled_back.notes == "GitLab pipeline 777 failed"


def test_a_failed_pipeline_without_a_go_reports_nothing(
    tmp_path: Path, gitlab: dict[str, str]
) -> None:
    gated = run_job("gate", tmp_path, gitlab | {"CRITICALITY": "HIGH"}, tmp_path)
    assert gated.returncode == 4
    written = dotenv(tmp_path / "gate.env")
    done = run_job("report-failure", tmp_path, gitlab | written, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "nothing to report" in done.stdout
    store = Store.open(gitlab["RELEASE_AGENT_DB"])
    try:
        assert store.get_decision(written["RELEASE_ID"]).outcome is None
    finally:
        store.close()


def test_the_gate_job_shows_a_hostile_reason_inertly(tmp_path: Path) -> None:
    """The gate's display of the answer, run on an answer whose reason carries terminal
    escapes (GitLab's log acts on ANSI sequences and its section markers)."""
    script = "\n".join(load(GITLAB)["gate"]["script"])
    source = re.search(r"<<'PY'\n(.*?)\nPY\n", script, flags=re.S)
    assert source is not None
    reason = "fine\n\x1b[0Ksection_start:1:fake\r\x1b[31mGO\u202e\x07"
    answer = {"decision": "NO_GO", "release_id": "r-1", "next_window": None, "reason": reason}
    (tmp_path / "decision.json").write_text(json.dumps(answer), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", source.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not any(not char.isprintable() and char != "\n" for char in done.stdout)
    assert done.stdout.splitlines()[2:] == [
        "  \\x1b[0Ksection_start:1:fake",  # a carriage return ends a line, as in a log
        "  \\x1b[31mGO\\u202e\\x07",
    ]
    assert dotenv(tmp_path / "gate.env") == {"RELEASE_ID": "r-1", "DECISION": "NO_GO"}
