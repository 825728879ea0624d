"""The GitHub Action's step: ask the release gate, publish the answer, fail on NO_GO.

``action.yml`` (the repository root) runs ``python -m release_agent.integrations.action``
with every input in the environment as ``INPUT_<NAME>`` (upper case, ``-`` as ``_``). With
``mode: decide`` (the default) it asks a release-agent server (``server-url``, ``token``)
or, without a server, an Agent on this machine; it writes ``decision``, ``release_id``,
``next_window``, ``reason`` and ``shadow`` to ``$GITHUB_OUTPUT`` and a Markdown summary to
``$GITHUB_STEP_SUMMARY``. On DELAY, ``on-delay: wait`` sleeps until the window (at most
``max-wait-minutes`` in all) and asks again as a release delayed once more. With
``mode: outcome`` it records what the deploy did for ``release-id``.

Exit status as for ``release-agent decide``: 0 GO (or an outcome recorded), 3 DELAY,
4 NO_GO, 2 bad input (naming the input), 1 any other failure. Only the standard library
is imported unless the gate runs locally.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .gate_backends import (
    RESULTS,
    Ask,
    Backend,
    GateError,
    LocalBackend,
    ServerBackend,
    Verdict,
)
from .workflow_io import Log, append_summary, markdown_paragraph, markdown_text, write_outputs

EXIT_GO = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DELAY = 3
EXIT_NO_GO = 4
EXIT_BY_DECISION = {"GO": EXIT_GO, "DELAY": EXIT_DELAY, "NO_GO": EXIT_NO_GO}

INPUTS: dict[str, str] = {
    "mode": "decide",
    "service": "",
    "env": "prod",
    "team": "",
    "feature-risk": "",
    "criticality": "",
    "clash": "",
    "notes": "",
    "ref": "",
    "shadow": "false",
    "server-url": "",
    "token": "",
    "db": "",
    "policy": "",
    "on-delay": "fail",
    "max-wait-minutes": "60",
    "release-id": "",
    "result": "",
    "replace": "false",
}
"""Every input this module reads, with its default (action.yml declares the same)."""

MODES = ("decide", "outcome")
LEVELS = ("LOW", "MEDIUM", "HIGH")
ON_DELAY = ("fail", "wait")
BOOLEANS = ("true", "false")
MAX_WAIT_MINUTES = 4320.0  # 72 hours: the policy's default horizon
MAX_REASKS = 20
"""Re-asks in one wait, whatever the server answers (its max_delays ends it sooner)."""
OUTPUTS = ("decision", "release_id", "next_window", "reason", "shadow")
MARK = {"GO": "🟢", "DELAY": "🟡", "NO_GO": "🔴"}


def input_variable(name: str) -> str:
    """The environment variable that carries input ``name`` (``feature-risk`` ->
    ``INPUT_FEATURE_RISK``)."""
    return "INPUT_" + name.upper().replace("-", "_")


class Inputs:
    """The action's inputs, read from the environment; a name not in :data:`INPUTS` is a
    programming error (a test checks action.yml declares exactly these)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str) -> str:
        if name not in INPUTS:
            raise KeyError(f"undeclared input {name!r}")
        value = self.environ.get(input_variable(name))
        return (INPUTS[name] if value is None else value).strip()

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise GateError(f"{name}: is required", EXIT_BAD_INPUT)
        return value

    def choice(self, name: str, allowed: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.required(name)
        wanted = value.upper() if upper else value.lower()
        if wanted not in allowed:
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise GateError(
                f"{name}: {shown!r} is not allowed (allowed: {', '.join(allowed)})",
                EXIT_BAD_INPUT,
            )
        return wanted


@dataclass(frozen=True)
class Runtime:
    """What the step needs from the world, replaceable in tests."""

    environ: Mapping[str, str]
    log: Log
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]

    @classmethod
    def real(cls) -> Runtime:
        return cls(os.environ, Log(os.environ), lambda: datetime.now(UTC), time.sleep)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_token(token: str) -> None:
    # The value is never repeated: a message about it would print the secret.
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise GateError(
            "token: must be visible ASCII characters without white space (value not shown)",
            EXIT_BAD_INPUT,
        )


def backend_for(inputs: Inputs, runtime: Runtime) -> Backend:
    """The server named by ``server-url``, or an Agent on this machine. Masks the token
    and any database password first. Raises GateError for inputs that do not fit."""
    url = inputs.text("server-url")
    token = inputs.text("token")
    if token:
        _check_token(token)
        runtime.log.mask(token)
    if not url:
        if token:
            raise GateError(
                "token: given without server-url; set server-url to ask a server (an empty "
                "server-url runs the gate on this runner, with its own memory)",
                EXIT_BAD_INPUT,
            )
        db = inputs.optional("db")
        if db:
            password = urllib.parse.urlsplit(db).password
            if password:
                runtime.log.mask(password)
        return LocalBackend(db, inputs.optional("policy"))
    for local_only in ("db", "policy"):
        if inputs.text(local_only):
            raise GateError(
                f"{local_only}: only for a gate without server-url (the server has its own)",
                EXIT_BAD_INPUT,
            )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GateError(
            "server-url: must be an http:// or https:// address, e.g. "
            "https://release-agent.example.com",
            EXIT_BAD_INPUT,
        )
    if parts.username is not None or parts.password is not None:
        raise GateError(
            "server-url: must not hold a user or a password (give the token as token)",
            EXIT_BAD_INPUT,
        )
    if token and parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise GateError(
            "server-url: the token is sent only over https (or to a loopback address)",
            EXIT_BAD_INPUT,
        )
    return ServerBackend(url, token or None, sleep=runtime.sleep)


def ask_from(inputs: Inputs, runtime: Runtime) -> Ask:
    """The first question, from the inputs. ``ref`` defaults to ``$GITHUB_SHA:env`` (white
    space in ``env`` as ``_``), the ref the GitHub webhooks give the same deployment."""
    env = inputs.required("env")
    ref = inputs.optional("ref")
    sha = runtime.environ.get("GITHUB_SHA", "").strip()
    if ref is None and sha:
        ref = f"{sha}:{'_'.join(env.split())}"
    clash = inputs.text("clash").replace(",", " ").split()
    return Ask(
        service=inputs.required("service"),
        env=env,
        feature_risk=inputs.choice("feature-risk", LEVELS, upper=True),
        criticality=inputs.choice("criticality", LEVELS, upper=True),
        clashes=clash,
        notes=inputs.optional("notes"),
        ref=ref,
        team=inputs.optional("team"),
        shadow=inputs.choice("shadow", BOOLEANS) == "true",
    )


def max_wait(inputs: Inputs) -> timedelta:
    text = inputs.required("max-wait-minutes")
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes <= MAX_WAIT_MINUTES:  # NaN fails too
        raise GateError(
            f"max-wait-minutes: must be a number of minutes from 0 to {MAX_WAIT_MINUTES:g}",
            EXIT_BAD_INPUT,
        )
    return timedelta(minutes=minutes)


def ask_until_decided(
    backend: Backend, ask: Ask, wait: bool, budget: timedelta, runtime: Runtime
) -> tuple[Verdict, int]:
    """The gate's answer and how many times it was asked again.

    A DELAY whose window has passed already (the stored answer to a ref asked before, as
    in a re-run job) is asked again at once. With ``wait``, a DELAY whose window comes
    within ``budget`` (counted from the first answer) is slept out first. Each re-ask is
    a release delayed once more, decided for the moment it is asked.
    """
    verdict = backend.decide(ask)
    deadline = runtime.clock() + budget
    reasks = 0
    while verdict.decision == "DELAY" and not verdict.shadow and reasks < MAX_REASKS:
        window = verdict.next_window
        assert window is not None  # verdict_of refuses a DELAY without one
        now = runtime.clock()
        if window > now:
            if not wait:
                break
            if window > deadline:
                runtime.log.info(
                    f"DELAY: the window {window.isoformat()} is after max-wait-minutes "
                    f"(until {deadline.isoformat()}); not waiting"
                )
                break
            seconds = (window - now).total_seconds()
            runtime.log.info(f"DELAY: waiting {seconds:.0f} s for the window {window.isoformat()}")
            runtime.sleep(seconds)
        else:
            runtime.log.info(f"DELAY: its window {window.isoformat()} has passed; asking again")
        reasks += 1
        ask = replace(ask, delays=max(ask.delays, verdict.delays) + 1)
        verdict = backend.decide(ask)
    return verdict, reasks


def summary(ask: Ask, verdict: Verdict, reasks: int, mode: str) -> str:
    """The job summary in Markdown; every value from a request or an answer is escaped."""
    rows = [
        ("Decision", verdict.decision),
        ("Service", ask.service),
        ("Environment", ask.env),
        ("Feature risk", ask.feature_risk),
        ("Criticality", ask.criticality),
        ("Clashes", ", ".join(ask.clashes) or "none"),
        ("Ref", ask.ref or "none"),
        ("Release id", verdict.release_id),
        ("Next window", verdict.next_window.isoformat() if verdict.next_window else "none"),
        ("Asked again after a delay", str(reasks)),
        ("Gate", mode),
    ]
    shadow = " (shadow: advice only, blocks nothing)" if verdict.shadow else ""
    lines = [
        f"### {MARK[verdict.decision]} Release gate: {verdict.decision}{shadow}",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {label} | {markdown_text(value)} |" for label, value in rows),
        "",
        "**Reason**",
        "",
        markdown_paragraph(verdict.reason) or "(none given)",
        "",
        *(f"> Warning: {markdown_text(warning)}\n" for warning in verdict.warnings),
    ]
    return "\n".join(lines)


def _publish(verdict: Verdict, ask: Ask, reasks: int, mode: str, runtime: Runtime) -> None:
    outputs = {
        "decision": verdict.decision,
        "release_id": verdict.release_id,
        "next_window": verdict.next_window.isoformat() if verdict.next_window else "",
        "reason": verdict.reason,
        "shadow": "true" if verdict.shadow else "false",
    }
    assert tuple(outputs) == OUTPUTS  # action.yml declares exactly these
    output_path = runtime.environ.get("GITHUB_OUTPUT")
    if output_path:
        write_outputs(Path(output_path), outputs)
    summary_path = runtime.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        append_summary(Path(summary_path), summary(ask, verdict, reasks, mode))
    runtime.log.info(f"{verdict.decision} for {ask.service} -> {ask.env}")
    runtime.log.untrusted([f"release {verdict.release_id}", *verdict.reason.splitlines()])
    for warning in verdict.warnings:
        runtime.log.warning(warning)


def run_decide(inputs: Inputs, runtime: Runtime) -> int:
    on_delay = inputs.choice("on-delay", ON_DELAY)
    budget = max_wait(inputs)
    ask = ask_from(inputs, runtime)
    backend = backend_for(inputs, runtime)
    mode = "server" if inputs.text("server-url") else "local"
    try:
        verdict, reasks = ask_until_decided(backend, ask, on_delay == "wait", budget, runtime)
    finally:
        backend.close()
    _publish(verdict, ask, reasks, mode, runtime)
    if verdict.shadow:
        runtime.log.info(f"shadow: {verdict.decision} is advice only; the step passes")
        return EXIT_GO
    if verdict.decision == "NO_GO":
        runtime.log.error(f"NO_GO for {ask.service} -> {ask.env}: the release may not go out")
    elif verdict.decision == "DELAY":
        window = verdict.next_window.isoformat() if verdict.next_window else "none"
        runtime.log.error(f"DELAY for {ask.service} -> {ask.env}: ask again at {window}")
    return EXIT_BY_DECISION[verdict.decision]


def run_outcome(inputs: Inputs, runtime: Runtime) -> int:
    release_id = inputs.required("release-id")
    result = inputs.choice("result", RESULTS)
    replace_flag = inputs.choice("replace", BOOLEANS) == "true"
    notes = inputs.optional("notes")
    backend = backend_for(inputs, runtime)
    try:
        recorded = backend.record_outcome(release_id, result, notes, replace_flag)
    finally:
        backend.close()
    said = "recorded" if recorded else "was already recorded"
    runtime.log.info(f"outcome {result} {said}")
    runtime.log.untrusted([f"release {release_id}"])
    summary_path = runtime.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        append_summary(
            Path(summary_path),
            f"### Release outcome: {result}\n\nRelease {markdown_text(release_id)}: {said}.\n",
        )
    return EXIT_GO


def run(runtime: Runtime) -> int:
    """One step of the action; the exit status. Errors are logged, never raised."""
    inputs = Inputs(runtime.environ)
    try:
        mode = inputs.choice("mode", MODES)
        return run_decide(inputs, runtime) if mode == "decide" else run_outcome(inputs, runtime)
    except GateError as error:
        runtime.log.error(error.message)
        summary_path = runtime.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            append_summary(
                Path(summary_path),
                f"### Release gate: failed\n\n{markdown_paragraph(error.message)}\n",
            )
        return error.exit_code


def main() -> None:
    sys.exit(run(Runtime.real()))


if __name__ == "__main__":
    main()
