// The page: the served models (from the repository index and each model's metadata), an API key
// field, and a place to try the model picked, with a version picker.

import { apiKey, call, setApiKey } from "./api.js";
import { element, failure, provenance } from "./results.js";
import { tryerFor } from "./tryers.js";

const $ = (selector) => document.querySelector(selector);

async function showHealth() {
  try {
    await call("GET", "/v2/health/ready");
    $("#health").textContent = "ready";
    $("#health").className = "ok";
  } catch (error) {
    $("#health").textContent = error.status === 503 ? "loading models (not ready yet)" : error.message;
    $("#health").className = "bad";
  }
}

// Nested figures as [path, number]: {"int8_vs_fp32": {"all_variants": {"top1_agreement": 0.97}}} -> one.
function numbers(value, path = []) {
  if (typeof value === "number") return [[path, value]];
  if (!value || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => numbers(inner, [...path, key]));
}

// The first few figures of a version's metrics, named by their outer and inner keys.
function quality(metrics) {
  const rates = numbers(metrics).filter(([, value]) => !(Number.isInteger(value) && value > 1));  // not counts
  const named = rates.slice(0, 3).map(([path, value]) => {
    const name = path.length > 1 ? [path[0], path[path.length - 1]] : path;
    return `${name.join(" ").replaceAll("_", " ")} ${+value.toFixed(4)}`;
  });
  return named.join(", ") || "—";
}

function weights(source) {
  if (typeof source === "string") return source;
  if (source && typeof source === "object") return source.weights || source.source || JSON.stringify(source);
  return "unknown";
}

// Each version's state from the repository index; a model with no version says why (not built, say).
function versionStates(rows, defaultVersion) {
  return element("ul", { class: "versions" }, ...rows.map((row) => {
    const state = row.state === "READY" ? "ready" : `unavailable: ${row.reason || "no reason given"}`;
    const name = row.version ? `${row.version}${row.version === defaultVersion ? " (default)" : ""}: ` : "";
    return element("li", { class: row.state === "READY" ? "ok" : "bad" }, name + state);
  }));
}

function modelRow(name, rows, metadata) {
  const parameters = metadata ? metadata.parameters : {};
  const tryer = metadata && tryerFor(metadata);
  const card = parameters.card ? element("button", { type: "button", onclick: () => showCard(metadata) }, "Card") : null;
  return element("tr", { "data-model": name },
    element("th", { scope: "row" }, name),
    element("td", {}, versionStates(rows, parameters.default_version)),
    element("td", {}, parameters.task || "—"),
    element("td", {}, quality(parameters.metrics)),
    element("td", {}, metadata ? weights(parameters.weights) : "—"),
    element("td", {}, tryer ? element("button", { type: "button", onclick: () => pick(metadata) }, "Try") : "—", " ", card));
}

async function showModels() {
  const table = $("#models tbody");
  $("#models-notice").replaceChildren();
  table.replaceChildren();
  let index;
  try {
    index = await call("POST", "/v2/repository/index");
  } catch (error) {
    $("#models-notice").replaceChildren(failure(error));
    return;
  }
  const names = [...new Set(index.map((row) => row.name))].sort();
  const served = await Promise.all(names.map(async (name) => {
    const rows = index.filter((row) => row.name === name);
    const ready = rows.some((row) => row.state === "READY");
    return [name, rows, ready ? await call("GET", `/v2/models/${name}`).catch(() => null) : null];
  }));
  table.replaceChildren(...served.map(([name, rows, metadata]) => modelRow(name, rows, metadata)));
  const first = served.find(([, , metadata]) => metadata && tryerFor(metadata));
  if (first && !$("#try").dataset.model) pick(first[2]);
}

let asked = 0;  // answers to an earlier ask are dropped: the latest one is shown

function show(request, render) {
  const result = $("#result");
  const ticket = ++asked;
  result.replaceChildren(element("p", { class: "working" }, "asking the server…"));
  request
    .then(async (answer) => [...(await render(answer)), ...provenance(answer)])
    .catch((error) => [failure(error)])
    .then((nodes) => ticket === asked && result.replaceChildren(...nodes));
}

function pick(metadata) {
  const area = $("#try");
  area.dataset.model = metadata.name;
  const picker = element("select", { id: "version", name: "version" },
    element("option", { value: "" }, `default (${metadata.parameters.default_version})`),
    ...metadata.versions.map((version) => element("option", { value: version }, `version ${version}`)));
  const tryer = tryerFor(metadata);
  area.replaceChildren(
    element("h2", {}, `Try ${metadata.name}`),
    element("p", { class: "description" }, metadata.parameters.description || ""),
    element("label", {}, "Version ", picker),
    tryer(metadata, () => picker.value, show),
    element("div", { id: "result", "aria-live": "polite" }));
}

// The default version's model card, fetched as any call is (with the key), shown in a sandboxed frame.
async function showCard(metadata) {
  const area = $("#try");
  area.dataset.model = metadata.name;
  const frame = element("iframe", { class: "card", sandbox: "", title: `model card of ${metadata.name}` });
  area.replaceChildren(element("h2", {}, `Model card: ${metadata.name} version ${metadata.parameters.version}`), frame);
  try {
    frame.srcdoc = await call("GET", metadata.parameters.card, { text: true });
  } catch (error) {
    frame.replaceWith(failure(error));
  }
}

$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("#api-key").value.trim());
  showModels();
});
$("#api-key").value = apiKey();
showHealth();
showModels();
