// The release-agent console: ask for a decision, watch the pipeline, record what happened,
// see what the agent has learned. Plain ES modules, same-origin API, no third party.
// Text from requests and reasoners is only ever set as text (see dom.js).

import { ApiError, describeProblem, get, post, token } from "./api.js";
import { loadCalendar } from "./calendar.js";
import { $, clear, el, percent, sleep, twoPlaces } from "./dom.js";
import { renderOverride } from "./override.js";
import { plannedAt, setupPicker } from "./picker.js";
import { TimeError, browserZone, formatTime } from "./time.js";

const API = "/api/v1";
const RESULTS = ["success", "degraded", "rolled_back", "incident", "not_deployed"];
const STAGES = [
  { key: "context", name: "Context", from: ["context"] },
  { key: "guardrails", name: "Guardrails", from: ["guardrails"] },
  { key: "heuristics", name: "Heuristics", from: ["heuristics"] },
  { key: "planner", name: "Planner", from: ["scheduling", "planner"] },
  { key: "red_team", name: "Red team", from: ["red_team"] },
  { key: "reflection", name: "Reflection", from: ["reflection"] },
  { key: "decision", name: "Decision", from: ["decision"] },
  { key: "memory", name: "Memory", from: ["memory", "learning"] },
];
// When something was recorded is shown in the viewer's zone; a release's planned time and
// next window in the offset the release itself carries.
const VIEWER = browserZone();
const STEP_MS = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 220;

const state = { filter: { service: "", team: "", decision: "" }, next: null, busy: false, shown: null };

// -- messages ------------------------------------------------------------------------------

function say(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
}

function quiet() {
  $("#message").hidden = true;
}

function complain(error) {
  if (error instanceof TimeError) {
    say(describeProblem(problems(error)[0]));
    return;
  }
  if (error instanceof ApiError && error.status === 401) {
    $("#token-box").hidden = false;
    $("#token").focus();
    say("This server needs an API token for writes: enter it at the top right and try again.");
    return;
  }
  say(error instanceof ApiError ? error.message : String(error));
}

// -- times, decision pill, outcome pill ----------------------------------------------------

/**
 * A <time> for an ISO 8601 instant, its text from formatTime (see time.js): in `zone` if
 * given (then named in data-zone and the tooltip), else in the offset the text carries.
 */
const when = (iso, zone) =>
  iso
    ? el("time", { datetime: iso, text: formatTime(iso, zone), title: zone ? `${iso}, shown in ${zone}` : iso, dataset: zone ? { zone } : undefined })
    : "—";

// Decisions and results are named exactly as the API, the CLI and the memory name them.
const decisionPill = (decision) => el("span", { class: `pill decision-${decision}`, text: decision });

const outcomePill = (result) => el("span", { class: `pill outcome outcome-${result}`, text: result });

// -- the pipeline ------------------------------------------------------------------------

function stageFor(traceStage) {
  return STAGES.find((s) => s.from.includes(traceStage)) ?? { key: traceStage, name: traceStage };
}

function stageRow(stage) {
  return el(
    "li",
    { class: "stage", dataset: { stage: stage.key, status: "pending" } },
    el("span", { class: "stage-dot", "aria-hidden": "true" }),
    el(
      "div",
      { class: "stage-body" },
      el("div", { class: "stage-head" }, el("strong", { text: stage.name }), el("span", { class: "stage-status", text: "waiting" })),
      el("ul", { class: "stage-lines" }),
    ),
  );
}

function resetPipeline() {
  const list = clear($("#pipeline"));
  for (const stage of STAGES) list.append(stageRow(stage));
  list.dataset.state = "idle";
  return list;
}

function traceLine(entry) {
  const line = el("li", {}, el("span", { class: "stage-state mono", text: entry.state }), " ", entry.summary);
  if (entry.detail && Object.keys(entry.detail).length) {
    line.append(
      el("details", { class: "raw" }, el("summary", { text: "detail" }), el("pre", { text: JSON.stringify(entry.detail, null, 2) })),
    );
  }
  return line;
}

async function playTrace(record, animate) {
  const list = resetPipeline();
  list.dataset.state = "running";
  const rows = new Map([...list.children].map((row) => [row.dataset.stage, row]));
  let previous = null;
  for (const entry of record.trace) {
    const stage = stageFor(entry.stage);
    let row = rows.get(stage.key);
    if (!row) {
      row = stageRow(stage);
      list.append(row);
      rows.set(stage.key, row);
    }
    if (previous && previous !== row) finishRow(previous);
    row.dataset.status = "active";
    $(".stage-status", row).textContent = "running";
    $(".stage-lines", row).append(traceLine(entry));
    if (stage.key === "decision") row.dataset.decision = record.decision;
    previous = row;
    if (animate && STEP_MS) await sleep(STEP_MS);
  }
  if (previous) finishRow(previous);
  for (const row of rows.values()) {
    if (row.dataset.status === "pending") {
      row.dataset.status = "skipped";
      $(".stage-status", row).textContent =
        row.dataset.stage === "reflection" ? "not needed: only a production GO is confirmed" : "not run";
    }
  }
  list.dataset.state = "done";
}

function finishRow(row) {
  row.dataset.status = "done";
  $(".stage-status", row).textContent = "done";
}

// -- the decision --------------------------------------------------------------------------

function renderVerdict(record) {
  const box = clear($("#verdict"));
  box.dataset.decision = record.decision;
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", { text: "Confidence" }),
    el("dd", {}, el("span", { class: "meter" }, el("span", { style: { width: percent(record.confidence) } })), " ", percent(record.confidence)),
    el("dt", { text: "Planned for" }),
    el("dd", {}, when(record.request.at)),
  );
  if (record.next_window) facts.append(el("dt", { text: "Next window" }), el("dd", { class: "next-window" }, when(record.next_window)));
  facts.append(el("dt", { text: "Decided" }), el("dd", { class: "decided" }, when(record.created_at, VIEWER)));
  if (record.guardrails.length) facts.append(el("dt", { text: "Guardrails" }), el("dd", { text: record.guardrails.join("; ") }));
  box.append(
    el(
      "div",
      { class: "verdict-head" },
      el("span", { class: "verdict-decision", text: record.decision }),
      el("span", { class: "verdict-service", text: `${record.request.service} → ${record.request.env}` }),
      el("span", { class: "verdict-team muted", text: `team ${record.request.team}` }),
    ),
    el("p", { class: "verdict-reason", text: record.reason }),
    facts,
  );
  $("#release-id").textContent = record.release_id;
}

function renderRequest(record) {
  const r = record.request;
  const rows = [
    ["Service", r.service],
    ["Team", r.team],
    ["Environment", r.env],
    ["Feature risk", r.feature_risk],
    ["Criticality", r.service_criticality],
    ["Clashes", r.clashes.length ? r.clashes.join(", ") : "none"],
  ];
  const list = el("dl", { class: "facts" });
  for (const [name, value] of rows) list.append(el("dt", { text: name }), el("dd", { text: value }));
  list.append(el("dt", { text: "Notes" }), el("dd", { id: "request-notes", class: "notes", text: r.notes ?? "—" }));
  return el("div", { class: "panel" }, el("h3", { text: "Request" }), list);
}

function renderReview(record) {
  const parts = [];
  if (record.red_team) {
    const rt = record.red_team;
    parts.push(
      el(
        "div",
        { class: "panel" },
        el("h3", { text: "Red team" }),
        el("p", {}, el("span", { class: `pill level-${rt.risk_level}`, text: `${rt.risk_level} risk` }), " suggests ", el("strong", { text: rt.suggested_action })),
        rt.concerns.length ? el("ul", { class: "concerns" }, rt.concerns.map((c) => el("li", { text: c }))) : el("p", { class: "muted", text: "No concerns." }),
      ),
    );
  }
  if (record.reflection) {
    parts.push(
      el("div", { class: "panel" }, el("h3", { text: "Reflection" }), el("p", {}, el("strong", { text: record.reflection.confirmed ? "Confirmed. " : "Not confirmed. " }), record.reflection.reason)),
    );
  }
  if (record.heuristics_applied.length) {
    parts.push(
      el(
        "div",
        { class: "panel" },
        el("h3", { text: "Heuristics applied" }),
        el(
          "ul",
          { class: "concerns" },
          record.heuristics_applied.map((h) =>
            el("li", {}, decisionPill(h.recommendation), " ", el("span", { class: "mono", text: conditionText(h.when) }), ` ${twoPlaces(h.confidence)} `, h.followed ? "followed" : `not followed${h.why_not ? `: ${h.why_not}` : ""}`),
          ),
        ),
      ),
    );
  }
  return parts;
}

function conditionText(when) {
  return Object.entries(when)
    .map(([key, value]) => {
      if (Array.isArray(value)) return `${key} in {${value.join(", ")}}`;
      if (value && typeof value === "object") return `${key}=${value.from}..${value.to}`;
      return `${key}=${value}`;
    })
    .join(" & ");
}

function renderOutcome(record) {
  const panel = el("div", { class: "panel outcome-panel", id: "outcome-panel" }, el("h3", { text: "Outcome" }));
  const form = el(
    "form",
    { id: "outcome-form", class: "outcome-form" },
    el("select", { name: "result", "aria-label": "Result" }, RESULTS.map((r) => el("option", { value: r, text: r }))),
    el("input", { name: "notes", placeholder: "What happened (optional)", maxlength: "4000", "aria-label": "Outcome notes" }),
    el("button", { type: "submit", class: "primary", text: record.outcome ? "Replace outcome" : "Record outcome" }),
  );
  if (record.outcome) {
    const o = record.outcome;
    panel.append(
      el("p", { id: "outcome" }, outcomePill(o.result), " ", el("span", { class: "muted" }, "recorded ", when(o.recorded_at, VIEWER))),
      o.notes ? el("p", { class: "notes", text: o.notes }) : null,
      el("details", {}, el("summary", { text: "Replace it" }), form),
    );
  } else {
    panel.append(el("p", { class: "muted", text: "What happened after the deploy? Learning uses outcomes, never the agent's own decisions." }), form);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { result: data.get("result"), notes: data.get("notes") || null };
    if (record.outcome) body.replace = true;
    form.querySelector("button").disabled = true;
    try {
      const updated = await post(`${API}/decisions/${encodeURIComponent(record.release_id)}/outcome`, body);
      quiet();
      showRecord(updated, false);
      await Promise.all([loadHistory(), loadHealth()]);
    } catch (error) {
      complain(error);
      form.querySelector("button").disabled = false;
    }
  });
  return panel;
}

function renderExtra(record) {
  const box = clear($("#decision-extra"));
  const overridden = async (updated) => {
    quiet();
    await showRecord(updated, false);
    await Promise.all([loadHistory(), loadHealth(), loadCalendar(VIEWER, state.filter.team)]);
  };
  box.append(
    renderOutcome(record),
    renderOverride(record, VIEWER, (updated) => overridden(updated).catch(complain), complain),
    renderRequest(record),
    ...renderReview(record),
    el("details", { class: "raw panel" }, el("summary", { text: "Full record (JSON)" }), el("pre", { text: JSON.stringify(record, null, 2) })),
  );
}

async function showRecord(record, animate) {
  state.shown = record.release_id;
  if (animate) {
    clear($("#decision-extra"));
    const box = clear($("#verdict"));
    box.dataset.decision = "";
    box.append(el("p", { class: "placeholder", text: "Deciding…" }));
    await playTrace(record, true);
  } else {
    await playTrace(record, false);
  }
  renderVerdict(record);
  renderExtra(record);
}

async function decide(request) {
  if (state.busy) return;
  state.busy = true;
  document.body.classList.add("busy");
  clear($("#verdict")).append(el("p", { class: "placeholder", text: "Asking the agent…" }));
  try {
    const record = await request();
    quiet();
    await showRecord(record, true);
    await Promise.all([loadHistory(), loadHeuristics(), loadHealth(), loadCalendar(VIEWER, state.filter.team)]);
  } catch (error) {
    clear($("#verdict")).append(el("p", { class: "placeholder", text: "No decision: see the message above." }));
    throw error;
  } finally {
    state.busy = false;
    document.body.classList.remove("busy");
  }
}

// -- asking: scenarios and the request form ------------------------------------------------

async function loadScenarios() {
  const { items } = await get(`${API}/scenarios`);
  const list = clear($("#scenarios"));
  for (const scenario of items) {
    list.append(
      el(
        "li",
        { class: "scenario" },
        el("div", {}, el("strong", { text: scenario.title }), el("div", { class: "muted mono" }, scenario.request.service), el("div", { class: "muted mono" }, when(scenario.request.at))),
        el("button", {
          type: "button",
          class: "primary",
          text: "Run",
          dataset: { scenario: scenario.id },
          "aria-label": `Run scenario ${scenario.title}`,
          onclick: () => decide(() => post(`${API}/scenarios/${encodeURIComponent(scenario.id)}/run`)).catch(complain),
        }),
      ),
    );
  }
}

/** The body of POST /decisions from the form. Raises TimeError for a planned time that does not exist. */
function requestBody(form) {
  const data = new FormData(form);
  return {
    service: data.get("service").trim(),
    env: data.get("env").trim() || "prod",
    team: data.get("team").trim() || "default",
    feature_risk: data.get("feature_risk"),
    service_criticality: data.get("service_criticality"),
    clashes: data
      .get("clashes")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    notes: data.get("notes") || null,
    at: plannedAt(form),
  };
}

/** The problems an error carries, each with the field it names. */
function problems(error) {
  if (error instanceof ApiError) return error.entries;
  if (error instanceof TimeError) return [{ field: "at", message: error.message }];
  return [];
}

function markFields(form, error) {
  for (const label of form.querySelectorAll(".field")) {
    label.classList.remove("invalid");
    $(".field-error", label).textContent = "";
  }
  for (const entry of problems(error)) {
    const name = (entry.field || "").split(".")[0];
    const label = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (label) {
      label.classList.add("invalid");
      $(".field-error", label).textContent = describeProblem(entry);
    }
  }
}

function setupForm() {
  const form = $("#pane-request");
  setupPicker(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    markFields(form, null);
    try {
      const body = requestBody(form); // a time the zone skips stops here, before any request
      await decide(() => post(`${API}/decisions`, body));
    } catch (error) {
      markFields(form, error);
      complain(error);
    }
  });
}

function setupTabs() {
  const tabs = [
    [$("#tab-scenarios"), $("#pane-scenarios")],
    [$("#tab-request"), $("#pane-request")],
  ];
  for (const [tab] of tabs) {
    tab.addEventListener("click", () => {
      for (const [other, pane] of tabs) {
        const on = other === tab;
        other.setAttribute("aria-selected", String(on));
        pane.hidden = !on;
      }
    });
  }
}

// -- history ---------------------------------------------------------------------------------

function historyRow(record) {
  const r = record.request;
  return el(
    "tr",
    { dataset: { id: record.release_id, decision: record.decision }, class: record.release_id === state.shown ? "current" : null },
    el("td", { class: "nowrap" }, when(record.created_at, VIEWER)),
    el(
      "td",
      {},
      el("strong", { text: r.service }),
      el("span", { class: "muted", text: ` ${r.env}` }),
      el("div", { class: "muted small", dataset: { mark: "team" }, text: `team ${r.team}` }),
      r.notes ? el("div", { class: "notes-line muted", text: r.notes }) : null,
    ),
    el("td", { class: "nowrap" }, when(r.at)),
    el(
      "td",
      {},
      decisionPill(record.decision),
      record.override ? el("span", { class: "muted small", dataset: { mark: "override" }, text: ` override (agent: ${record.override.agent_decision})` }) : null,
      record.shadow ? el("span", { class: "muted small", dataset: { mark: "shadow" }, text: " shadow" }) : null,
      record.next_window ? el("div", { class: "muted small nowrap" }, "→ ", when(record.next_window)) : null,
    ),
    el("td", { text: percent(record.confidence) }),
    el("td", { class: "outcome-cell" }, record.outcome ? outcomePill(record.outcome.result) : el("span", { class: "muted", text: "awaiting" })),
    el("td", {}, el("button", { type: "button", class: "link", text: "Open", onclick: () => showRecord(record, false).then(() => window.scrollTo({ top: 0, behavior: "smooth" })) })),
  );
}

async function loadHistory(more = false) {
  const params = new URLSearchParams({ limit: "20" });
  if (state.filter.service) params.set("service", state.filter.service);
  if (state.filter.team) params.set("team", state.filter.team);
  if (state.filter.decision) params.set("decision", state.filter.decision);
  if (more && state.next) params.set("before", state.next);
  const page = await get(`${API}/decisions?${params}`);
  const body = $("#history tbody");
  if (!more) clear(body);
  for (const record of page.items) body.append(historyRow(record));
  state.next = page.next;
  $("#history-more").hidden = !page.next;
  $("#history-empty").hidden = body.children.length > 0;
}

function setupHistory() {
  const form = $("#history-filter");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    state.filter = { service: data.get("service").trim(), team: data.get("team").trim(), decision: data.get("decision") };
    Promise.all([loadHistory(), loadCalendar(VIEWER, state.filter.team)]).catch(complain);
  });
  form.querySelector("select").addEventListener("change", () => form.requestSubmit());
  $("#history-more").addEventListener("click", () => loadHistory(true).catch(complain));
}

// -- heuristics ------------------------------------------------------------------------------

async function loadHeuristics() {
  const { items } = await get(`${API}/heuristics`);
  const body = clear($("#heuristics tbody"));
  for (const h of items) {
    body.append(
      el(
        "tr",
        { dataset: { status: h.status } },
        el("td", { class: "mono", text: h.description }),
        el("td", {}, decisionPill(h.recommendation)),
        el("td", { class: "nowrap confidence" }, el("span", { class: "meter" }, el("span", { style: { width: percent(h.confidence) } })), " ", h.confidence_text),
        el("td", { text: h.support }),
        el("td", { text: h.failures }),
        el("td", { text: h.successes }),
        el("td", { text: h.provenance }),
        el("td", {}, el("span", { class: `pill status-${h.status}`, text: h.status })),
        el("td", { class: "nowrap" }, when(h.last_checked ?? h.created_at, VIEWER)),
        el("td", { class: "reason", text: h.reason ?? "" }),
      ),
    );
  }
  $("#heuristics-empty").hidden = items.length > 0;
}

function setupLearn() {
  const button = $("#learn");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const report = await post(`${API}/learn`);
      $("#learn-report").textContent =
        `From ${report.outcomes} outcomes: ${report.proposed} proposed, ${report.added} added, ` +
        `${report.updated} updated, ${report.retired} retired, ${report.rejected.length} rejected.`;
      await loadHeuristics();
    } catch (error) {
      complain(error);
    } finally {
      button.disabled = false;
    }
  });
}

// -- health and token ------------------------------------------------------------------------

async function loadHealth() {
  const box = $("#health");
  try {
    const health = await get("/healthz");
    box.dataset.ok = "true";
    box.textContent = `store ok · ${health.decisions} decisions · ${health.auth ? "writes need a token" : "local, writes open"} · v${health.version}`;
    if (health.auth) $("#token-box").hidden = false;
  } catch (error) {
    box.dataset.ok = "false";
    box.textContent = error instanceof ApiError ? error.message : "server unreachable";
  }
}

function setupToken() {
  const input = $("#token");
  input.value = token.get();
  input.addEventListener("change", () => token.set(input.value.trim()));
  $("#token-box").addEventListener("submit", (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    quiet();
  });
}

// -- start -------------------------------------------------------------------------------------

async function start() {
  resetPipeline();
  $("#viewer-zone").textContent = `(${VIEWER})`;
  setupTabs();
  setupForm();
  setupHistory();
  setupLearn();
  setupToken();
  await loadHealth();
  const results = await Promise.allSettled([loadScenarios(), loadHistory(), loadHeuristics(), loadCalendar(VIEWER)]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) complain(failed.reason);
  document.body.dataset.ready = "true";
}

start();
