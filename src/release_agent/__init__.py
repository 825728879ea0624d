"""release-agent: may this release go to production now? GO, NO_GO or DELAY.

The public Python API::

    from release_agent import Agent, Store, ReleaseRequest, Result, load_policy

    agent = Agent(Store.open("sqlite:///memory.db"), load_policy())
    record = agent.decide(ReleaseRequest(service="search", feature_risk="LOW",
                                         service_criticality="MEDIUM",
                                         at="2026-11-24T10:00:00+01:00"))
    agent.record_outcome(record.release_id, Result.success)

The names are loaded on first use (PEP 562): importing the package, as the command line
does for `--help` and shell completion, loads none of the pipeline, numpy or scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import Agent
    from .domain.errors import (
        Conflict,
        ImportFormatError,
        InvalidInput,
        NotFound,
        PolicyError,
        ReasonerError,
        ReleaseAgentError,
        RuntimeFault,
        StoreError,
        UserError,
    )
    from .domain.models import (
        Decision,
        DecisionRecord,
        Heuristic,
        Level,
        ReleaseRequest,
        Result,
        parse_request,
    )
    from .domain.policy import Costs, DecisionSettings, Policy, load_policy, parse_policy
    from .memory.store import Store

__all__ = [
    "Agent",
    "Conflict",
    "Costs",
    "Decision",
    "DecisionRecord",
    "DecisionSettings",
    "Heuristic",
    "ImportFormatError",
    "InvalidInput",
    "Level",
    "NotFound",
    "Policy",
    "PolicyError",
    "ReasonerError",
    "ReleaseAgentError",
    "ReleaseRequest",
    "Result",
    "RuntimeFault",
    "Store",
    "StoreError",
    "UserError",
    "load_policy",
    "parse_policy",
    "parse_request",
]

_AGENT = {"Agent": ".agent", "Store": ".memory.store"}
"""Where the names that load the pipeline or SQLAlchemy live; the others live in the
domain (errors, models, policy), looked up in that order."""
_DOMAIN = (".domain.errors", ".domain.models", ".domain.policy")


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'release_agent' has no attribute {name!r}")
    homes = [_AGENT[name]] if name in _AGENT else _DOMAIN
    for home in homes:
        module = importlib.import_module(home, __name__)
        if hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value  # later look-ups skip this function
            return value
    raise AttributeError(f"module 'release_agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
