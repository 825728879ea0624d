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

export const percent = (x) => (typeof x === "number" ? `${Math.round(x * 100)}%` : "—");
/** A heuristic's confidence as every view shows it: rounded down to two decimals. */
export const twoPlaces = (x) => (typeof x === "number" ? (Math.floor(x * 100 + 1e-9) / 100).toFixed(2) : "—");
