"""Outcomes reported by the tools that deploy: what their words mean, and recording one
by the ref a decision was asked with.

Argo Rollouts' AnalysisRun phases and Flagger's canary phases map to results:

    Successful (Argo), Succeeded (Flagger)      success
    Failed, Error (Argo), Failed (Flagger)      rolled_back (both tools roll the canary
                                                back when its analysis fails)

``Inconclusive`` (Argo pauses the rollout for a human) and the phases of a rollout still
under way (Pending, Running, Progressing, ...) are no outcome: refused, naming the phases
that are.

``not_deployed`` (the release did not go out: its calendar slot is freed, and it is no
evidence) is recorded only when a caller says so — ``{"ref": ..., "result":
"not_deployed"}`` — never read into a tool's words, since none of them clearly means
that nothing went out:

- Argo's ``Inconclusive`` pauses a rollout that has begun (the canary is out, and a
  human may still promote it): no outcome yet, as above.
- GitHub's ``deployment_status`` ``error`` says the deployment failed to complete, not
  that nothing reached the environment (a half-applied deploy is the riskiest kind): it
  stays the policy's ``[github] failure_result``. ``inactive`` marks an earlier deployment
  that a newer one replaced, after it went out: no outcome (see
  :func:`release_agent.integrations.github.events.status_result`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.models import Decision, DecisionRecord, Result
from ..memory.store import Store

PHASES: dict[str, Result] = {
    "successful": Result.success,
    "succeeded": Result.success,
    "failed": Result.rolled_back,
    "error": Result.rolled_back,
}
"""Phase (any case) -> result."""
PHASE_NAMES = ("Successful", "Succeeded", "Failed", "Error")


def result_of_phase(phase: str) -> Result:
    """The result a terminal phase means; raises InvalidInput (field ``phase``) for any
    other phase, saying why it is no outcome."""
    found = PHASES.get(phase.strip().lower())
    if found is not None:
        return found
    if phase.strip().lower() == "inconclusive":
        why = "an Inconclusive analysis leaves the rollout paused: send the result once it ends"
    else:
        why = f"{phase[:40]!r} is not a finished phase: send it when the rollout has ended"
    raise InvalidInput(why, field="phase", allowed=list(PHASE_NAMES))


def record_by_ref(
    store: Store,
    ref: str,
    result: Result,
    notes: str | None,
    record: Callable[[str, Result, str | None], object],
) -> DecisionRecord:
    """Record ``result`` for the live decision of ``ref`` through ``record`` (the
    agent's ``record_outcome``, under the caller's lock); returns the updated record.

    Raises NotFound when no decision has that ref, Conflict when it has an outcome
    already (an outcome is replaced only by id, on purpose) or is a NO_GO, which
    deployed nothing (``not_deployed`` too: a NO_GO holds no slot to free)."""
    decision = store.decision_by_ref(ref)
    if decision is None:
        raise NotFound(f"no decision with ref {ref!r}", field="ref")
    if decision.outcome is not None:
        raise Conflict(
            f"decision {decision.release_id} (ref {ref!r}) already has outcome "
            f"{decision.outcome.result.value}; replace it by id: "
            f'POST /api/v1/decisions/{decision.release_id}/outcome with "replace": true',
            field="ref",
        )
    if decision.decision is Decision.NO_GO:
        raise Conflict(
            f"decision {decision.release_id} (ref {ref!r}) is a NO_GO: nothing was deployed",
            field="ref",
        )
    record(decision.release_id, result, notes)
    return store.get_decision(decision.release_id)
