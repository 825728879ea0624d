"""Import and export of the seed's memory file.

The format::

    {"episodes": [{"context": {...}, "decision": "GO", "outcome": "SUCCESS",
                   "timestamp": "2026-01-12T11:24:30+00:00"}, ...],
     "heuristics": [{"when": {...}, "recommendation": "GO", "confidence": 0.6,
                     "supporting_episodes": 2}, ...]}

and the older form, a bare list of episodes. Context keys are the attributes of
:mod:`release_agent.domain.conditions` (the seed's three and service, env, hour_of_day, clash,
...). Decisions: GO, NO_GO, DELAY, and the seed's ABORT (read as NO_GO). Outcomes: the
seed's SUCCESS / FAILURE / ABORTED and ours (success, degraded, rolled_back, incident,
not_deployed); ABORTED, DELAYED, NO_GO, PENDING, not_deployed or none mean the release was
not deployed, so the episode is no evidence about failure.

:func:`parse` checks a whole document and raises ImportFormatError naming the JSON path
of the first fault; :mod:`release_agent.learn.imports` writes what it returns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..domain.attributes import complete
from ..domain.conditions import KNOWN_ATTRIBUTES, normalize
from ..domain.errors import ImportFormatError, InvalidInput
from ..domain.models import (
    MAX_YEAR,
    MIN_YEAR,
    Decision,
    HeuristicStatus,
    Result,
)
from ..domain.policy import DecisionSettings
from .store import Store
from .types import iso

_NAMESPACE = uuid.UUID("6f1c1d0e-6f53-4b8e-9a54-2f1b7f0d8e11")
_DECISIONS = {"GO": Decision.GO, "NO_GO": Decision.NO_GO, "DELAY": Decision.DELAY}
_DECISIONS |= {"ABORT": Decision.NO_GO, "NOGO": Decision.NO_GO, "NO-GO": Decision.NO_GO}
_RECOMMENDATIONS = tuple(d.value for d in Decision)
_OUTCOMES: dict[str, Result | None] = {
    "SUCCESS": Result.success,
    "SUCCEEDED": Result.success,
    "DEGRADED": Result.degraded,
    "ROLLED_BACK": Result.rolled_back,
    "ROLLBACK": Result.rolled_back,
    "INCIDENT": Result.incident,
    "FAILURE": Result.incident,
    "FAILED": Result.incident,
    "NOT_DEPLOYED": Result.not_deployed,
    "ABORTED": None,
    "DELAYED": None,
    "NO_GO": None,
    "PENDING": None,
}


def _fail(where: str, message: str, allowed: Any = None) -> ImportFormatError:
    return ImportFormatError(message, field=where, allowed=allowed)


def _context(raw: Any, where: str, settings: DecisionSettings) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be an object of attribute: value")
    values = dict(raw)
    clash = values.get("clash")
    if isinstance(clash, str):
        values["clash"] = bool(clash.strip())
    elif isinstance(clash, list):
        values["clash"] = bool(clash)
    for key in values:
        if key not in KNOWN_ATTRIBUTES:
            raise _fail(f"{where}.{key}", "is not a known attribute", KNOWN_ATTRIBUTES)
        if isinstance(values[key], list | Mapping):
            raise _fail(f"{where}.{key}", "must be a single value")
    try:
        context = normalize(values, where) if values else {}
    except InvalidInput as error:
        raise ImportFormatError(str(error), field=error.field) from None
    return complete(context, settings)


def _episode(raw: Any, where: str, settings: DecisionSettings) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be an object with context, decision, outcome, timestamp")
    for key in ("context", "decision", "timestamp"):
        if key not in raw:
            raise _fail(f"{where}.{key}", "is required")
    context = _context(raw["context"], f"{where}.context", settings)
    decision_text = str(raw["decision"]).strip().upper()
    if decision_text not in _DECISIONS:
        raise _fail(f"{where}.decision", f"{raw['decision']!r} is not a decision", _DECISIONS)
    outcome_raw = raw.get("outcome")
    result: Result | None = None
    if outcome_raw is not None:
        text = str(outcome_raw).strip().upper()
        if text not in _OUTCOMES:
            raise _fail(f"{where}.outcome", f"{outcome_raw!r} is not an outcome", _OUTCOMES)
        result = _OUTCOMES[text]
    try:
        stamp = datetime.fromisoformat(str(raw["timestamp"]))
    except ValueError:
        raise _fail(f"{where}.timestamp", f"{raw['timestamp']!r} is not an ISO 8601 time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    if not MIN_YEAR <= stamp.year <= MAX_YEAR:
        raise _fail(f"{where}.timestamp", f"must be a time from {MIN_YEAR} to {MAX_YEAR}")
    deploy_at = raw.get("deploy_at")
    if deploy_at is not None:
        try:
            deployed = datetime.fromisoformat(str(deploy_at))
        except ValueError:
            raise _fail(f"{where}.deploy_at", f"{deploy_at!r} is not an ISO 8601 time") from None
        if deployed.tzinfo is None or not MIN_YEAR <= deployed.year <= MAX_YEAR:
            raise _fail(f"{where}.deploy_at", "must be a time with a UTC offset, 2000 to 2100")
    release_id = raw.get("release_id")
    if release_id is not None and (not isinstance(release_id, str) or not release_id.strip()):
        raise _fail(f"{where}.release_id", "must be a non-empty string")
    return {
        "release_id": release_id,
        "created_at": iso(stamp),
        "deploy_at": iso(deployed) if deploy_at is not None else None,
        "source": "imported",
        "decision": _DECISIONS[decision_text].value,
        "result": result.value if result else None,
        "failed": int(result.failed) if result and result.deployed else None,
        "outcome_notes": raw.get("outcome_notes")
        if isinstance(raw.get("outcome_notes"), str)
        else None,
        "outcome_at": iso(stamp) if result else None,
        "reason": raw.get("reason") if isinstance(raw.get("reason"), str) else None,
        "record_json": json.dumps(dict(raw), sort_keys=True, default=str),
        **{name: context.get(name) for name in KNOWN_ATTRIBUTES},
    }


def _heuristic(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be an object with when, recommendation, confidence")
    for key in ("when", "recommendation", "confidence"):
        if key not in raw:
            raise _fail(f"{where}.{key}", "is required")
    try:
        when = normalize(raw["when"], f"{where}.when")
    except InvalidInput as error:
        raise ImportFormatError(str(error), field=error.field) from None
    recommendation = str(raw["recommendation"]).strip().upper()
    if recommendation not in _RECOMMENDATIONS:
        raise _fail(
            f"{where}.recommendation",
            f"{raw['recommendation']!r} is not a decision",
            _RECOMMENDATIONS,
        )
    confidence = raw["confidence"]
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0.0 <= confidence <= 1.0
    ):
        raise _fail(f"{where}.confidence", f"{confidence!r} is not a number from 0 to 1")
    support = raw.get("supporting_episodes", raw.get("support", 1))
    if isinstance(support, bool) or not isinstance(support, int) or support < 0:
        raise _fail(f"{where}.supporting_episodes", f"{support!r} is not a whole number")
    status = str(raw.get("status", HeuristicStatus.active.value)).lower()
    if status not in (HeuristicStatus.active.value, HeuristicStatus.retired.value):
        raise _fail(f"{where}.status", f"{status!r} is not a status", ["active", "retired"])
    return {
        "when": when,
        "recommendation": recommendation,
        "confidence": float(confidence),
        "support": support,
        "status": HeuristicStatus(status),
        "where": where,
    }


def parse(
    data: Any, settings: DecisionSettings | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check a whole memory document; return (episode rows, heuristic candidates)."""
    settings = settings or DecisionSettings()
    if isinstance(data, list):
        raw_episodes, raw_heuristics = data, []
    elif isinstance(data, Mapping):
        unknown = set(data) - {"episodes", "heuristics"}
        if unknown:
            key = sorted(unknown)[0]
            raise _fail(key, "is not a known key", ["episodes", "heuristics"])
        raw_episodes = data.get("episodes", [])
        raw_heuristics = data.get("heuristics", [])
        if not isinstance(raw_episodes, list):
            raise _fail("episodes", "must be a list")
        if not isinstance(raw_heuristics, list):
            raise _fail("heuristics", "must be a list")
    else:
        raise _fail("$", "must be an object with episodes and heuristics, or a list of episodes")
    episodes = [_episode(e, f"episodes[{i}]", settings) for i, e in enumerate(raw_episodes)]
    given: dict[str, int] = {}
    for i, row in enumerate(episodes):
        if row["release_id"] is not None:
            if row["release_id"] in given:
                raise _fail(
                    f"episodes[{i}].release_id",
                    f"{row['release_id']!r} is also the id of episodes[{given[row['release_id']]}]",
                )
            given[row["release_id"]] = i
    seen: dict[str, int] = {}
    for row in episodes:
        if row["release_id"] is None:
            content = row["record_json"]
            seen[content] = seen.get(content, 0) + 1
            row["release_id"] = f"imported-{uuid.uuid5(_NAMESPACE, f'{content}#{seen[content]}')}"
    heuristics = [_heuristic(h, f"heuristics[{i}]") for i, h in enumerate(raw_heuristics)]
    return episodes, heuristics


def load_file(path: str | Path) -> Any:
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as error:
        raise ImportFormatError(f"cannot read {target}: {error.strerror}", field="file") from None
    except UnicodeDecodeError:
        raise ImportFormatError(f"{target} is not UTF-8 text", field="file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFormatError(
            f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            field=str(target),
        ) from None


def export_memory(store: Store) -> dict[str, Any]:
    """Every episode and every active or retired heuristic, in the seed's shape (plus
    our own fields; importing an export gives the same memory)."""
    episodes = [row.to_json() for row in reversed(store.list_episodes(limit=0))]
    heuristics = [
        {
            "when": x.when,
            "recommendation": x.recommendation.value,
            "confidence": x.confidence,
            "supporting_episodes": x.support,
            "failures": x.failures,
            "successes": x.successes,
            "provenance": x.provenance.value,
            "status": x.status.value,
        }
        for x in store.list_heuristics()
        if x.status is not HeuristicStatus.rejected
    ]
    return {"episodes": episodes, "heuristics": heuristics}
