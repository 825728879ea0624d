// Times for the console: UTC offsets of named IANA zones (from the browser's own time-zone
// database through Intl.DateTimeFormat, no library), wall times to instants, and the one
// function that turns a time into text.

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const WALL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;

/**
 * The offsets clocks actually use somewhere, for a release planned against an offset
 * rather than a place (and to pick the second of two equal wall times when clocks go back).
 */
export const FIXED_OFFSETS = [
  "-12:00", "-11:00", "-10:00", "-09:30", "-09:00", "-08:00", "-07:00", "-06:00", "-05:00",
  "-04:00", "-03:30", "-03:00", "-02:00", "-01:00", "+00:00", "+01:00", "+02:00", "+03:00",
  "+03:30", "+04:00", "+04:30", "+05:00", "+05:30", "+05:45", "+06:00", "+06:30", "+07:00",
  "+08:00", "+08:45", "+09:00", "+09:30", "+10:00", "+10:30", "+11:00", "+12:00", "+12:45",
  "+13:00", "+13:45", "+14:00",
];

/** A wall time that cannot be turned into an instant; the message says why and what to do. */
export class TimeError extends Error {}

/** The browser's IANA time zone ("UTC" if it reports none). */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/**
 * Every IANA zone the browser knows, sorted, with "UTC" first and `extra` (the browser's
 * own zone, which may be an alias the list leaves out) included.
 */
export function zoneNames(...extra) {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const names = new Set([...known, ...extra.filter(Boolean)]);
  names.delete("UTC");
  return ["UTC", ...[...names].sort()];
}

const formatters = new Map();

function formatterFor(zone) {
  let formatter = formatters.get(zone);
  if (!formatter) {
    // hourCycle h23: midnight is 00, never 24 (some engines answer 24 with hour12: false)
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

function fixedMinutes(text) {
  const m = OFFSET.exec(text);
  if (!m) return null;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  if (Number(m[3]) > 59 || minutes > 18 * 60) return null;
  return m[1] === "-" ? -minutes : minutes;
}

/** Milliseconds since the epoch of a wall time read as UTC; years below 100 stay as given. */
function utcMillis(year, month, day, hour = 0, minute = 0, second = 0) {
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  return date.getTime();
}

/**
 * The UTC offset, in whole minutes east of Greenwich, that `zone` (an IANA name or ±HH:MM)
 * uses at the instant `epochMs`. Raises RangeError for a zone Intl does not know.
 */
export function offsetAt(zone, epochMs) {
  const fixed = fixedMinutes(zone);
  if (fixed !== null) return fixed;
  const whole = Math.floor(epochMs / 1000) * 1000; // Intl shows no milliseconds
  const parts = {};
  for (const part of formatterFor(zone).formatToParts(whole)) parts[part.type] = part.value;
  const year = parts.era === "BC" ? 1 - Number(parts.year) : Number(parts.year);
  const wall = utcMillis(year, +parts.month, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  // historical local mean times have offsets with seconds; ISO 8601 here carries minutes
  return Math.round((wall - whole) / MINUTE);
}

/** "+01:00", "-03:30", "+00:00" for an offset in minutes. */
export function formatOffset(minutes) {
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** The offset a full ISO 8601 string carries ("Z" is +00:00), or null if it carries none. */
export function offsetOf(iso) {
  const m = ISO.exec(iso ?? "");
  if (!m) return null;
  return m[1] === "Z" ? 0 : fixedMinutes(m[1]);
}

/** The wall-clock fields of an instant seen at a fixed offset. */
function fieldsAt(epochMs, offsetMinutes) {
  const d = new Date(epochMs + offsetMinutes * MINUTE);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: DAYS[d.getUTCDay()],
  };
}

const two = (n) => String(n).padStart(2, "0");
const date = (f) => `${String(f.year).padStart(4, "0")}-${two(f.month)}-${two(f.day)}`;

/** ISO 8601 with seconds and the offset `zone` uses at that instant: "2026-11-27T16:00:00+01:00". */
export function isoInZone(epochMs, zone) {
  const offset = offsetAt(zone, epochMs);
  const f = fieldsAt(epochMs, offset);
  return `${date(f)}T${two(f.hour)}:${two(f.minute)}:${two(f.second)}${formatOffset(offset)}`;
}

/**
 * The instant a wall time ("YYYY-MM-DDTHH:MM", what <input type="datetime-local"> gives)
 * names in `zone`, with the offset in force then and the ISO 8601 text to send.
 *
 * Guarantees: offsetAt(zone, epochMs) === offset, and the wall time of `iso` is `wall`.
 * When clocks go back the wall time happens twice: the first (earlier) instant is taken and
 * `ambiguous` lists both offsets. Raises TimeError when the text is no wall time or when the
 * time does not exist in that zone (clocks go forward over it).
 */
export function zonedInstant(wall, zone) {
  const m = WALL.exec(wall ?? "");
  if (!m) throw new TimeError(`"${wall}" is not a date and time (YYYY-MM-DDTHH:MM)`);
  const [year, month, day, hour, minute, second] = m.slice(1).map((x) => Number(x ?? 0));
  const local = utcMillis(year, month, day, hour, minute, second);
  const check = fieldsAt(local, 0);
  if (check.month !== month || check.day !== day || hour > 23 || minute > 59 || second > 59) {
    throw new TimeError(`"${wall}" is not a real date and time`);
  }
  // A zone changes offset at most once in any two days: the offsets a day either side
  // are the only candidates, and a candidate holds if the zone agrees at its instant.
  const before = offsetAt(zone, local - DAY);
  const after = offsetAt(zone, local + DAY);
  const valid = [...new Set([before, after, offsetAt(zone, local)])]
    .map((offset) => ({ offset, epochMs: local - offset * MINUTE }))
    .filter((c) => offsetAt(zone, c.epochMs) === c.offset)
    .sort((a, b) => a.epochMs - b.epochMs);
  if (!valid.length) {
    throw new TimeError(
      `${wall.replace("T", " ")} does not exist in ${zone}: the clocks go forward from ` +
        `${formatOffset(before)} to ${formatOffset(after)} over it; choose another time`,
    );
  }
  const [first] = valid;
  return {
    epochMs: first.epochMs,
    offset: first.offset,
    iso: isoInZone(first.epochMs, zone),
    ambiguous: valid.length > 1 ? valid.map((c) => formatOffset(c.offset)) : null,
  };
}

/**
 * The one way the console shows a time: 24-hour, ISO-like, with its offset,
 * "Fri 2026-11-27 16:00 +01:00". With `zone`, the instant as seen in that zone; without,
 * in the offset the text itself carries (a release's own time). Empty gives "—"; text that
 * is no full ISO 8601 time with an offset is returned unchanged.
 */
export function formatTime(iso, zone) {
  if (!iso) return "—";
  const own = offsetOf(iso);
  const epochMs = Date.parse(iso);
  if (own === null || Number.isNaN(epochMs)) return String(iso);
  const offset = zone ? offsetAt(zone, epochMs) : own;
  const f = fieldsAt(epochMs, offset);
  return `${f.weekday} ${date(f)} ${two(f.hour)}:${two(f.minute)} ${formatOffset(offset)}`;
}
