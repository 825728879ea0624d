// The human in the loop: a decision's override panel. It shows an override already made
// (the agent's decision, who decided what, when and why), a shadow decision as advice
// only, and a form to override: the final decision, who, why. Text from the record is
// only ever set as text (see dom.js); times are 24-hour ISO-like (see time.js).

import { post } from "./api.js";
import { el } from "./dom.js";
import { formatTime } from "./time.js";

const API = "/api/v1";
const DECISIONS = ["GO", "DELAY", "NO_GO"];

const pill = (decision) => el("span", { class: `pill decision-${decision}`, text: decision });

const stamp = (iso, zone) =>
  el("time", { datetime: iso, text: formatTime(iso, zone), title: `${iso}, shown in ${zone}`, dataset: { zone } });

/** Why this record cannot be overridden now, or null when it can. */
function closed(record) {
  if (record.superseded_by) return `Superseded by ${record.superseded_by}: override that decision.`;
  if (record.outcome) return "An outcome is recorded: what was deployed cannot be overridden any more.";
  return null;
}

/**
 * The panel for `record`. `zone`: the viewer's time zone, for when the override was made.
 * `done(updated)` is called with the overridden record; `fail(error)` with an error.
 */
export function renderOverride(record, zone, done, fail) {
  const panel = el("div", { class: "panel override-panel", id: "override-panel" }, el("h3", { text: "Override" }));
  if (record.shadow) {
    panel.append(el("p", { id: "shadow-note" }, el("span", { class: "pill", text: "shadow" }), " advice only: this decision blocks nothing."));
  }
  const o = record.override;
  if (o) {
    panel.append(
      el(
        "p",
        { id: "override-summary" },
        "Agent said ",
        pill(o.agent_decision),
        "; ",
        el("strong", { text: o.by }),
        " decided ",
        pill(o.decision),
        " at ",
        stamp(o.at, zone),
        o.break_glass ? el("span", { class: "pill decision-NO_GO", text: "break-glass" }) : null,
      ),
      el("p", { class: "notes", id: "override-reason", text: o.reason }),
    );
  }
  const why = closed(record);
  if (why) {
    panel.append(el("p", { class: "muted", text: why }));
    return panel;
  }
  const choices = DECISIONS.filter((d) => d !== record.decision);
  const form = el(
    "form",
    { id: "override-form", class: "outcome-form" },
    el("select", { name: "decision", "aria-label": "Final decision" }, choices.map((d) => el("option", { value: d, text: d }))),
    el("input", { name: "by", placeholder: "Who overrides", maxlength: "100", required: true, "aria-label": "Who overrides" }),
    el("input", { name: "reason", placeholder: "Why (kept in the audit log)", maxlength: "2000", required: true, "aria-label": "Why" }),
    el("button", { type: "submit", class: "primary", text: "Override" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { decision: data.get("decision"), by: data.get("by"), reason: data.get("reason") };
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      done(await post(`${API}/decisions/${encodeURIComponent(record.release_id)}/override`, body));
    } catch (error) {
      button.disabled = false;
      fail(error);
    }
  });
  panel.append(
    el("p", { class: "muted", text: "Overrule the agent: the record keeps its decision and yours, and the audit log keeps every override." }),
    o ? el("details", {}, el("summary", { text: "Override again" }), form) : form,
  );
  return panel;
}
