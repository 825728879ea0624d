// The change calendar: the upcoming slots booked by GO decisions (at their time) and
// DELAYs (at their window), earliest first, in the viewer's zone (24-hour ISO-like, see
// time.js), of every team or of the team the history is filtered by. Service and
// environment names are the callers' text: set as text only.

import { get } from "./api.js";
import { $, clear, el } from "./dom.js";
import { formatTime } from "./time.js";

const API = "/api/v1";

/**
 * Fill the calendar table with the bookings from now on; `zone` is the viewer's, `team`
 * (optional) the only team whose bookings are shown (the .ics link follows it).
 */
export async function loadCalendar(zone, team = "") {
  const query = team ? `?${new URLSearchParams({ team })}` : "";
  const page = await get(`${API}/calendar${query}`);
  $("#calendar-ics").href = `${API}/calendar.ics${query}`;
  const body = clear($("#calendar tbody"));
  $("#calendar-zone").textContent = `(${zone})`;
  for (const booking of page.items) {
    body.append(
      el(
        "tr",
        { dataset: { decision: booking.decision } },
        el(
          "td",
          { class: "nowrap" },
          el("time", { datetime: booking.at, text: formatTime(booking.at, zone), title: `${booking.at}, shown in ${zone}`, dataset: { zone } }),
        ),
        el("td", { text: booking.env }),
        el("td", { text: booking.service }),
        el("td", {}, el("span", { class: `pill decision-${booking.decision}`, text: booking.decision })),
        el("td", { class: "mono muted", text: booking.release_id }),
      ),
    );
  }
  $("#calendar-empty").hidden = page.items.length > 0;
  $("#calendar-note").textContent = `Releases within ${page.clash_minutes} minutes of one another clash.`;
}
