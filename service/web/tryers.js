// One way to try each task: draw a digit, give a photo, type a text, compare two texts.
// Each tryer gets the model's metadata, a function that says which version is picked, and
// `show(request, render)`, which puts the rendered answer (or the server's refusal) in the result area.

import { predict, predictJSON } from "./api.js";
import { boxesOver, classProbabilities, element, similarity, topClasses } from "./results.js";

// A digit model reads 28x28 pixels: it gets a drawing pad; other image models get a photo.
const isDigitModel = (metadata) =>
  metadata.inputs.some((input) => input.shape.slice(1).reduce((a, b) => a * b, 1) === 784);

export function tryerFor(metadata) {
  switch (metadata.parameters.task) {
    case "image_classification": return isDigitModel(metadata) ? digitPad : photo;
    case "object_detection": return photo;
    case "text_classification": return sentimentText;
    case "sentence_embedding": return textPair;
    default: return null;
  }
}

function digitPad(metadata, version, show) {
  const canvas = element("canvas", { class: "pad", width: 280, height: 280, "aria-label": "draw a digit here" });
  const pen = canvas.getContext("2d");
  const clear = () => {
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  Object.assign(pen, { lineWidth: 20, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
  let drawing = false;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    pen.beginPath();
    pen.moveTo(...at(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    pen.lineTo(...at(event));
    pen.stroke();
  });
  const send = () => show(new Promise((resolve) => canvas.toBlob(resolve, "image/png"))
    .then((png) => predict(metadata.name, version(), png, "image/png", { top_k: 3 })),
    (answer) => [element("p", { class: "top" }, answer.prediction.label), topClasses(answer.prediction)]);
  canvas.addEventListener("pointerup", () => {
    drawing = false;
    send();  // every stroke asks again: the answer follows the drawing
  });
  return element("div", { class: "tryer" },
    element("p", {}, "Draw a digit (white paper, dark ink: the server frames and inverts it as MNIST's)."),
    canvas,
    element("div", { class: "actions" },
      element("button", { type: "button", onclick: clear }, "Clear"),
      element("button", { type: "button", onclick: send }, "Predict")));
}

function photo(metadata, version, show) {
  const detector = metadata.parameters.task === "object_detection";
  const picker = element("input", { type: "file", accept: "image/*", name: "photo" });
  const zone = element("div", { class: "drop", tabindex: 0 }, "Drop a photo here, paste one, or pick a file: ", picker);
  const classify = (file) => {
    const preview = new Image();
    const url = URL.createObjectURL(file);
    const shown = new Promise((resolve, reject) => {
      preview.onload = resolve;
      preview.onerror = () => reject(new Error("this browser cannot show the file; the server is asked anyway"));
      preview.src = url;
    });
    show(predict(metadata.name, version(), file, file.type || "application/octet-stream"), async (answer) => {
      const found = answer.prediction;
      if (detector) {
        await shown;
        return [boxesOver(preview, found.detections)];
      }
      preview.className = "photo";
      return [preview, element("p", { class: "top" }, found.label), topClasses(found)];
    });
  };
  picker.addEventListener("change", () => picker.files[0] && classify(picker.files[0]));
  zone.addEventListener("dragover", (event) => event.preventDefault());
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files[0]) classify(event.dataTransfer.files[0]);
  });
  document.onpaste = (event) => {  // a pasted photo, wherever the focus is, while this tryer is shown
    const file = [...event.clipboardData.files][0];
    if (file && zone.isConnected) classify(file);
  };
  return element("div", { class: "tryer" }, zone);
}

function sentimentText(metadata, version, show) {
  const text = element("textarea", { rows: 3, name: "text", placeholder: "Type a sentence" });
  const send = () => show(predictJSON(metadata.name, version(), { instances: [text.value] }),
    (answer) => [element("p", { class: "top" }, answer.prediction.label), classProbabilities(answer.prediction)]);
  return element("div", { class: "tryer" }, text,
    element("div", { class: "actions" }, element("button", { type: "button", onclick: send }, "Classify")));
}

function textPair(metadata, version, show) {
  const first = element("input", { type: "text", name: "first", value: "A man is playing a guitar." });
  const second = element("input", { type: "text", name: "second", value: "Someone plays an instrument." });
  const send = () => show(predictJSON(metadata.name, version(),
    { instances: [first.value], parameters: { candidates: [second.value] } }),
    (answer) => [similarity(answer.prediction.ranked[0].score)]);
  return element("div", { class: "tryer" }, first, second,
    element("div", { class: "actions" }, element("button", { type: "button", onclick: send }, "Compare")));
}
