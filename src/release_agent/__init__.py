"""release-agent: may this release go to production now? GO, NO_GO or DELAY.

The public Python API::

    from release_agent import Agent, Store, ReleaseRequest, Result, load_policy

    agent = Agent(Store.open("sqlite:///memory.db"), load_policy())
    record = agent.decide(ReleaseRequest(service="search", feature_risk="LOW",
                                         service_criticality="MEDIUM",
                                         at="2026-11-24T10:00:00+01:00"))
    agent.record_outcome(record.release_id, Result.success)
"""

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
