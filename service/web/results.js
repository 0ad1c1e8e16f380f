// How answers are shown: probability bars, boxes over a photo, a similarity, an error.

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const percent = (p) => `${(100 * p).toFixed(1)}%`;

// rows: [{label, value}] with values in 0..1, largest first; `shown` writes a value beside its bar.
export function bars(rows, shown = percent) {
  return element("ol", { class: "bars" }, ...rows.map(({ label, value }) =>
    element("li", {},
      element("span", { class: "label" }, label),
      element("span", { class: "bar" }, element("span", { class: "fill", style: `width: ${percent(value)}` })),
      element("span", { class: "value" }, shown(value)))));
}

export function topClasses(prediction) {
  return bars(prediction.top_k.map((entry) => ({ label: entry.label, value: entry.probability })));
}

export function classProbabilities(prediction) {
  const rows = Object.entries(prediction.probabilities).map(([label, value]) => ({ label, value }));
  return bars(rows.sort((a, b) => b.value - a.value));
}

const BOX_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

// The photo on a canvas, each detection's box and label drawn over it (boxes are in the photo's pixels).
export function boxesOver(image, detections) {
  const scale = Math.min(1, 640 / image.naturalWidth);
  const canvas = element("canvas", { class: "photo", width: Math.round(image.naturalWidth * scale),
                                     height: Math.round(image.naturalHeight * scale) });
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  context.lineWidth = 3;
  context.font = "bold 14px sans-serif";
  detections.forEach((found, index) => {
    const { x_min, y_min, x_max, y_max } = found.box;
    const colour = BOX_COLOURS[found.class_id % BOX_COLOURS.length];
    const [x, y] = [x_min * scale, y_min * scale];
    context.strokeStyle = context.fillStyle = colour;
    context.strokeRect(x, y, (x_max - x_min) * scale, (y_max - y_min) * scale);
    const caption = `${found.label} ${found.score.toFixed(2)}`;
    context.fillRect(x, Math.max(0, y - 18), context.measureText(caption).width + 8, 18);
    context.fillStyle = "#fff";
    context.fillText(caption, x + 4, Math.max(14, y - 4));
  });
  const list = element("ol", { class: "detections" }, ...detections.map((found) =>
    element("li", {}, `${found.label} ${percent(found.score)}`)));
  return element("div", {}, canvas, detections.length ? list : element("p", {}, "nothing found"));
}

export function similarity(score) {
  return element("div", { class: "similarity" },
    element("p", {}, "cosine similarity ", element("strong", { class: "score" }, score.toFixed(3))),
    bars([{ label: "similarity", value: Math.max(0, score) }], (value) => value.toFixed(3)));  // a cosine, not a probability
}

// What the server said, as it said it: "401: missing or invalid API key ...".
export function failure(error) {
  const status = error.status ? `${error.status}: ` : "";
  return element("p", { class: "error", role: "alert" }, `${status}${error.message}`);
}

// The model that answered, and any warning it carries (random weights, a cut text).
export function provenance(answer) {
  const notes = [element("p", { class: "answered" }, `answered by ${answer.model_name} version ${answer.model_version}`)];
  if (answer.warning) notes.push(element("p", { class: "warning" }, answer.warning));
  if (answer.prediction && answer.prediction.truncated) {
    const { tokens, kept } = answer.prediction.truncated;
    notes.push(element("p", { class: "warning" }, `the text was cut: ${kept} of ${tokens} tokens read`));
  }
  return notes;
}
