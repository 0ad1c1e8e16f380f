// The page's only way to the server: the public HTTP endpoints, as any client calls them.
// The API key (when the server has keys) is kept for this tab only, in sessionStorage.

const KEY_ITEM = "axon.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

// A refusal, worded as the server worded it ({"error": "..."}), with its HTTP status.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The answer's JSON (or, with `text: true`, its text: a model card's HTML); a refusal throws ApiError.
export async function call(method, path, { body, contentType, query, text: asText = false } = {}) {
  const headers = { Accept: asText ? "text/html" : "application/json" };
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  if (contentType) headers["Content-Type"] = contentType;
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (error) {
    throw new ApiError(0, `the server did not answer (${error.message})`);
  }
  const text = await response.text();
  let document = null;
  try {
    document = JSON.parse(text);
  } catch {
    // not JSON: a proxy's page, say; its first words stand in for a message
  }
  if (!response.ok) {
    const message = document && typeof document.error === "string" ? document.error : text.slice(0, 200);
    throw new ApiError(response.status, message || response.statusText);
  }
  return asText ? text : document;
}

// V1 predict: one image or one text as the body, the answer's first prediction.
export async function predict(model, version, body, contentType, query) {
  const path = version ? `/v1/models/${model}/versions/${version}:predict` : `/v1/models/${model}:predict`;
  const answer = await call("POST", path, { body, contentType, query });
  return { ...answer, prediction: answer.predictions ? answer.predictions[0] : undefined };
}

export const predictJSON = (model, version, document) =>
  predict(model, version, JSON.stringify(document), "application/json");
