// Metadata values of documents: an input of each field's type, the editor of one document's values,
// and the dataset's fields as the API lists them.
import { api, dataset } from "./api.js";
import { h, replace } from "./dom.js";

export async function metadataFields(datasetId) {
  return api("GET", `${dataset(datasetId)}/metadata`);
}

// The input type that edits a value of a field's type.
export function inputType(type) {
  return { number: "number", time: "datetime-local" }[type] || "text";
}

// A value as the API takes it from its input's text: a number, Unix seconds for a time, else the text.
export function typedValue(type, text) {
  if (type === "number") return Number(text);
  if (type === "time") return Math.floor(new Date(text).getTime() / 1000);
  return text;
}

// An input for a value of `definition` ({ name, type }); input.read() is the value to send, null when empty.
export function valueInput(definition, value, attributes = {}) {
  const input = h("input", { ...attributes, type: inputType(definition.type), step: definition.type === "number" ? "any" : null,
    value: shownValue(definition.type, value) });
  input.read = () => (input.value.trim() ? typedValue(definition.type, input.value) : null);
  return input;
}

function shownValue(type, value) {
  if (value === null || value === undefined || value === "") return "";
  if (type !== "time") return String(value);
  const moment = new Date(Number(value) * 1000);
  const pad = (number) => String(number).padStart(2, "0");
  return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
}

// One document's values: a row per field of the dataset, built-in fields read-only. read() gives the
// API's metadata_list (fields left empty have no value).
export function metadataEditor(fields, values) {
  const byName = new Map(values.map((item) => [item.name, item.value]));
  const inputs = fields.doc_metadata.map((definition) => [definition,
    valueInput(definition, byName.get(definition.name), { id: `metadata-${definition.name}`, "aria-label": definition.name })]);
  const builtIns = fields.built_in_field_enabled ? values.filter((item) => item.id === "built-in") : [];
  const element = h("div", {},
    inputs.length ? h("table", { class: "table metadata-values" },
      h("thead", {}, h("tr", {}, ["Field", "Type", "Value"].map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, inputs.map(([definition, input]) => h("tr", { "data-field": definition.name },
        h("th", { scope: "row" }, h("label", { for: input.id }, definition.name)),
        h("td", { "data-label": "Type" }, definition.type), h("td", { "data-label": "Value" }, input)))))
      : null,
    builtIns.length ? h("dl", { class: "facts built-ins", "aria-label": "Built-in fields (read-only)" },
      builtIns.map((item) => [h("dt", {}, item.name), h("dd", {}, builtInText(item))])) : null);
  return {
    element,
    read: () => inputs.map(([definition, input]) => ({ id: definition.id, name: definition.name, value: input.read() }))
      .filter((item) => item.value !== null),
  };
}

function builtInText(item) {
  if (item.value === null || item.value === undefined || item.value === "") return "—";
  return item.type === "time" ? new Date(Number(item.value) * 1000).toLocaleString() : String(item.value);
}

// "Set a value on every selected document": a field, a value of its type, and apply(documentIds).
export function batchMetadataForm(fields, onApply) {
  const slot = h("span", { class: "value-slot" });
  const choice = h("select", { id: "batch-field", "aria-label": "Metadata field" },
    fields.map((definition) => h("option", { value: definition.id }, `${definition.name} (${definition.type})`)));
  let input;
  const chosen = () => fields.find((definition) => definition.id === choice.value);
  const rebuild = () => { input = valueInput(chosen(), null, { id: "batch-value", "aria-label": "Value" }); replace(slot, input); };
  choice.addEventListener("change", rebuild);
  rebuild();
  return h("form", { class: "inline", id: "batch-metadata", onsubmit: (event) => {
    event.preventDefault();
    const definition = chosen();
    onApply({ id: definition.id, name: definition.name, value: input.read() });
  } }, h("span", {}, "Set"), choice, h("span", {}, "to"), slot, h("button", { type: "submit" }, "Apply"));
}
