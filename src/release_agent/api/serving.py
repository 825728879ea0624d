"""The app as ``serve`` runs it, built from the environment: what each worker process calls.

uvicorn's worker processes cannot be handed an app object; they import one by name and
build it themselves. ``release-agent serve`` therefore puts its options in the
environment (the variables below, which the command's options also read) and names
``release_agent.api.serving:create_app_from_env`` as a factory. It may be served by
uvicorn (or gunicorn's uvicorn workers) directly, in the same way:

    RELEASE_AGENT_DB=postgresql://... uvicorn --factory --workers 4 \\
        release_agent.api.serving:create_app_from_env

Read here: RELEASE_AGENT_DB, RELEASE_AGENT_POLICY, RELEASE_AGENT_REASONER,
RELEASE_AGENT_MODEL, RELEASE_AGENT_ON_LLM_FAILURE, RELEASE_AGENT_API_TOKEN, and for the
background learner RELEASE_AGENT_LEARN (``off`` to leave learning to cron),
RELEASE_AGENT_LEARN_EVERY (outcomes; default the policy's ``extract_every``) and
RELEASE_AGENT_LEARN_INTERVAL (minutes; default 10).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from fastapi import FastAPI

from ..agent import Agent
from ..domain.errors import InvalidInput
from ..domain.models import ON_FAILURE
from ..domain.policy import load_policy
from ..learn.worker import LearnSettings
from ..memory.store import Store
from ..reasoners.registry import build_reasoner
from .app import create_app

LEARN_ENV = "RELEASE_AGENT_LEARN"
LEARN_EVERY_ENV = "RELEASE_AGENT_LEARN_EVERY"
LEARN_INTERVAL_ENV = "RELEASE_AGENT_LEARN_INTERVAL"
FAILURE_ENV = "RELEASE_AGENT_ON_LLM_FAILURE"
DEFAULT_INTERVAL_MINUTES = 10.0
LEARN_OFF = ("off", "0", "false", "no")
LEARN_ON = ("on", "1", "true", "yes", "")


def learn_settings(environ: Mapping[str, str] | None = None) -> LearnSettings | None:
    """The background learner the environment asks for; None when RELEASE_AGENT_LEARN is
    ``off``. Raises InvalidInput naming the variable at fault."""
    env = os.environ if environ is None else environ
    switch = env.get(LEARN_ENV, "").strip().lower()
    if switch in LEARN_OFF:
        return None
    if switch not in LEARN_ON:
        raise InvalidInput(f"{switch!r} is not on or off", field=LEARN_ENV, allowed=("on", "off"))
    every: int | None = None
    text = env.get(LEARN_EVERY_ENV, "").strip()
    if text:
        try:
            every = int(text)
        except ValueError:
            raise InvalidInput(
                f"{text[:40]!r} is not a whole number of outcomes", field=LEARN_EVERY_ENV
            ) from None
    minutes = DEFAULT_INTERVAL_MINUTES
    text = env.get(LEARN_INTERVAL_ENV, "").strip()
    if text:
        try:
            minutes = float(text)
        except ValueError:
            minutes = math.nan
        if not math.isfinite(minutes):
            raise InvalidInput(
                f"{text[:40]!r} is not a number of minutes", field=LEARN_INTERVAL_ENV
            )
    return LearnSettings(every_outcomes=every, every_seconds=minutes * 60.0)


def agent_from_env() -> Agent:
    """An Agent over RELEASE_AGENT_DB with the policy, reasoner and failure mode the
    environment names (each as the command line reads it when no option is given)."""
    failure = os.environ.get(FAILURE_ENV, "").strip() or "delay"
    if failure not in ON_FAILURE:
        raise InvalidInput(f"{failure!r} is not a failure mode", field=FAILURE_ENV,
                           allowed=ON_FAILURE)  # fmt: skip
    reasoner = build_reasoner()
    policy = load_policy()
    return Agent(Store.open(), policy, reasoner, on_llm_failure=failure)


def create_app_from_env() -> FastAPI:
    """The app of one ``serve`` worker process (see the module's docstring). Raises
    UserError for bad settings, StoreError when the database cannot be opened."""
    return create_app(agent_from_env, learning=learn_settings())
