// The planned-time picker: a datetime-local input and a time-zone select (the browser's
// zone by default, or a fixed offset), and the ISO 8601 `at` they stand for, shown live
// under them exactly as it will be sent.

import { $, clear, el } from "./dom.js";
import { FIXED_OFFSETS, TimeError, browserZone, formatOffset, isoInZone, offsetAt, zoneNames, zonedInstant } from "./time.js";

/**
 * The `at` to send: the chosen wall time in the chosen zone, with the offset that zone uses
 * at that moment; an empty time means now, in that zone. Raises TimeError for a wall time
 * the zone skips (clocks going forward) or that is no date.
 */
export function plannedAt(form) {
  const wall = form.elements.at.value;
  const zone = form.elements.zone.value;
  return wall ? zonedInstant(wall, zone).iso : isoInZone(Date.now(), zone);
}

function preview(form) {
  const box = $("#at-preview", form);
  const wall = form.elements.at.value;
  const zone = form.elements.zone.value;
  delete box.dataset.kind;
  if (!wall) {
    box.textContent = `empty: now in ${zone} (${formatOffset(offsetAt(zone, Date.now()))})`;
    return;
  }
  try {
    const instant = zonedInstant(wall, zone);
    box.textContent = `at = ${instant.iso}`;
    if (instant.ambiguous) {
      // clocks go back: the same wall time happens twice
      box.dataset.kind = "warning";
      box.textContent +=
        ` · this time happens twice in ${zone} (${instant.ambiguous.join(", then ")}): ` +
        `the first is used; for the second, choose UTC${instant.ambiguous.at(-1)}`;
    }
  } catch (error) {
    if (!(error instanceof TimeError)) throw error;
    box.dataset.kind = "error";
    box.textContent = error.message;
  }
}

/** Fill the zone select (the browser's zone selected) and keep the preview current. */
export function setupPicker(form) {
  const own = browserZone();
  const select = clear(form.elements.zone);
  select.append(
    el("optgroup", { label: "Time zones" }, zoneNames(own).map((zone) => el("option", { value: zone, text: zone, selected: zone === own }))),
    el("optgroup", { label: "Fixed offsets" }, FIXED_OFFSETS.map((offset) => el("option", { value: offset, text: `UTC${offset}` }))),
  );
  const update = () => preview(form);
  form.elements.at.addEventListener("input", update);
  form.elements.at.addEventListener("change", update);
  select.addEventListener("change", update);
  update();
}
