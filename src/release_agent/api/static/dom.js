// DOM helpers. Everything that came from a request or a reasoner goes in as text:
// there is no innerHTML anywhere in the console.

/**
 * Create an element. props: class, text, dataset, style (an object), on<event>, or attributes.
 * Children are nodes or strings (strings become text nodes).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value); // CSSOM: allowed by the CSP
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** A time in its own offset, the way the release sees it: "Fri 27 Nov 16:00 +01:00". */
export function wallTime(iso) {
  if (!iso) return "—";
  const m = ISO.exec(iso);
  if (!m) return iso;
  const [, y, mo, d, h, mi, zone] = m;
  const day = DAYS[new Date(Date.UTC(+y, +mo - 1, +d)).getUTCDay()];
  const offset = zone === "Z" || zone === "+00:00" ? "UTC" : zone;
  return `${day} ${+d} ${MONTHS[+mo - 1]} ${y} ${h}:${mi} ${offset}`;
}

/** A moment in the viewer's own time zone, for when things were recorded. */
export function localTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export const percent = (x) => (typeof x === "number" ? `${Math.round(x * 100)}%` : "—");
