// The console's only way to the server: same origin, JSON, the bearer token on writes.

const TOKEN_KEY = "release-agent.token";

export class ApiError extends Error {
  constructor(status, detail) {
    const entries = Array.isArray(detail) ? detail : [{ field: null, message: String(detail) }];
    super(entries.map(describeProblem).join("; "));
    this.status = status;
    this.entries = entries;
  }
}

export function describeProblem(entry) {
  let text = entry.message || "invalid value";
  if (entry.field && !text.startsWith(entry.field)) text = `${entry.field}: ${text}`;
  if (entry.allowed && entry.allowed.length && !text.includes("allowed:")) {
    text += ` (allowed: ${entry.allowed.join(", ")})`;
  }
  return text;
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || "",
  set: (value) =>
    value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY),
};

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const secret = token.get();
  if (secret && method !== "GET") headers.Authorization = `Bearer ${secret}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (error) {
    throw new ApiError(0, [{ field: null, message: `the server is unreachable (${error.message})` }]);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.detail ?? [{ field: null, message: response.statusText }]);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
