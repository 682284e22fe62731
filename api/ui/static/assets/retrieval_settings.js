// The retrieval-settings panel: search method, fusion or rerank, top_k, threshold, metadata filter.
// It reads and writes the API's `retrieval_model` object, so the same panel edits a dataset's default.
import { api } from "./api.js";
import { field, h, replace, select } from "./dom.js";
import { METHOD_NAMES, modelChoices } from "./labels.js";
import { inputType, typedValue } from "./metadata_values.js";

export const OPERATORS = {
  string: ["contains", "not contains", "start with", "end with", "is", "is not", "empty", "not empty", "in", "not in"],
  number: ["=", "≠", ">", "<", "≥", "≤", "empty", "not empty"],
  time: ["before", "after", "empty", "not empty"],
};
const WITHOUT_VALUE = new Set(["empty", "not empty"]);
const TOP_K_MAX = 10;

// `temporary`: the panel of hit-testing, whose settings last until saved as the dataset's default.
export async function retrievalPanel(datasetId, model, { economy = false, temporary = false } = {}) {
  const [metadata, rerankers] = await Promise.all([
    api("GET", `/v1/datasets/${datasetId}/metadata`),
    api("GET", "/v1/workspaces/current/models/model-types/rerank").catch(() => ({ data: [] })),
  ]);
  const fields = metadata.doc_metadata;
  const methods = (economy ? ["keyword_search"] : ["semantic_search", "full_text_search", "hybrid_search"]).map((key) => [key, METHOD_NAMES[key]]);
  const method = select(methods, economy ? "keyword_search" : model.search_method || "semantic_search", { id: "search-method" });
  const fusion = select([["weighted_score", "Weighted scores"], ["rrf", "Reciprocal rank fusion"], ["reranking_model", "Rerank model"]],
    model.reranking_mode || (model.reranking_enable ? "reranking_model" : "weighted_score"), { id: "fusion-mode" });
  const vectorWeight = h("input", { type: "range", id: "vector-weight", min: 0, max: 1, step: 0.05,
    value: model.weights?.vector_setting?.vector_weight ?? 0.45 });
  const weightLabel = h("output", { for: "vector-weight" });
  const rrfK = h("input", { type: "number", id: "rrf-k", min: 1, max: 1000, value: model.rrf_k ?? 60 });
  const rerankChoices = modelChoices(rerankers.data);
  const current = model.reranking_model?.reranking_model_name ? `${model.reranking_model.reranking_provider_name}\u0000${model.reranking_model.reranking_model_name}` : rerankChoices[0]?.[0];
  const reranker = select(rerankChoices.length ? rerankChoices : [["", "No rerank model is configured"]], current, { id: "rerank-model" });
  const topK = h("input", { type: "number", id: "top-k", min: 1, max: TOP_K_MAX, value: Math.min(model.top_k || 4, TOP_K_MAX) });
  const thresholdOn = h("input", { type: "checkbox", id: "threshold-on", checked: !!model.score_threshold_enabled });
  const threshold = h("input", { type: "number", id: "threshold", min: 0, max: 1, step: 0.01, value: model.score_threshold ?? 0.5 });
  const logical = select([["and", "all conditions (and)"], ["or", "any condition (or)"]], model.metadata_filtering_conditions?.logical_operator || "and", { id: "filter-logic" });
  const rows = h("div", { class: "conditions", id: "filter-conditions" });

  const hybridBox = h("div", { class: "grid" }, field("Fusion", fusion),
    h("div", { class: "field", "data-mode": "weighted_score" }, h("label", { for: "vector-weight" }, "Vector weight ", weightLabel), vectorWeight),
    h("div", { "data-mode": "rrf" }, field("RRF k", rrfK)),
    h("div", { "data-mode": "reranking_model" }, field("Rerank model", reranker)));

  function sync() {
    hybridBox.hidden = method.value !== "hybrid_search";
    for (const box of hybridBox.querySelectorAll("[data-mode]")) box.hidden = box.dataset.mode !== fusion.value;
    weightLabel.textContent = `${Number(vectorWeight.value).toFixed(2)} · keyword ${(1 - vectorWeight.value).toFixed(2)}`;
    threshold.disabled = !thresholdOn.checked;
  }
  for (const control of [method, fusion, vectorWeight, thresholdOn]) control.addEventListener("input", sync);

  function addCondition(condition = {}) {
    const name = select(fields.map((item) => [item.name, `${item.name} (${item.type})`]), condition.name, { "aria-label": "Metadata field" });
    const operator = h("select", { "aria-label": "Operator" });
    const value = h("input", { "aria-label": "Value", value: Array.isArray(condition.value) ? condition.value.join(", ") : condition.value ?? "" });
    const typeOf = () => fields.find((item) => item.name === name.value)?.type || "string";
    const fillOperators = () => {
      replace(operator, OPERATORS[typeOf()].map((op) => h("option", { value: op, selected: op === condition.comparison_operator }, op)));
      value.type = inputType(typeOf());
    };
    name.addEventListener("change", fillOperators);
    operator.addEventListener("change", () => { value.hidden = WITHOUT_VALUE.has(operator.value); });
    fillOperators();
    value.hidden = WITHOUT_VALUE.has(operator.value);
    const row = h("div", { class: "condition" }, name, operator, value,
      h("button", { type: "button", "aria-label": "Remove condition", onclick: () => row.remove() }, "×"));
    row.read = () => ({ name: name.value, comparison_operator: operator.value, value: conditionValue(typeOf(), operator.value, value.value) });
    rows.append(row);
  }
  for (const condition of model.metadata_filtering_conditions?.conditions || []) addCondition(condition);

  sync();
  const element = h("fieldset", { class: "card settings" }, h("legend", {}, "Retrieval settings"),
    temporary ? h("p", { class: "notice", id: "temporary-notice" }, "Temporary: these settings apply to this page only, until you save them as the dataset's default.") : null,
    h("div", { class: "grid" }, field("Search method", method), field("Top K", topK, `1 to ${TOP_K_MAX}`)),
    hybridBox,
    h("div", { class: "inline" }, h("label", {}, thresholdOn, " Score threshold"), threshold),
    h("p", { class: "muted small", id: "threshold-help" }, "A score is the estimated probability that a chunk is relevant, ",
      "comparable across queries, datasets and search methods: 0.5 keeps what is more likely relevant than not, ",
      "0.3 is a lenient floor. With a rerank model the threshold applies to the rerank model's score."),
    h("fieldset", { class: "filter" }, h("legend", {}, "Metadata filter"),
      fields.length ? [h("div", { class: "inline" }, h("span", {}, "Match"), logical), rows,
        h("button", { type: "button", id: "add-condition", onclick: () => addCondition() }, "+ Condition")]
        : h("p", { class: "muted small" }, temporary ? ["This dataset has no metadata fields yet (",
          h("a", { href: `/ui/datasets/${datasetId}/settings`, "data-link": true }, "add them in Settings"), ")."]
          : "This dataset has no metadata fields yet (add them under Metadata fields below).")));

  return {
    element,
    read() {
      const chosen = {
        search_method: method.value,
        reranking_enable: method.value === "hybrid_search" && fusion.value === "reranking_model",
        top_k: Number(topK.value),
        score_threshold_enabled: thresholdOn.checked,
        score_threshold: Number(threshold.value),
      };
      if (method.value === "hybrid_search") {
        chosen.reranking_mode = fusion.value;
        if (fusion.value === "weighted_score") {
          const weight = Number(vectorWeight.value);
          chosen.weights = { weight_type: "customized", vector_setting: { vector_weight: weight },
            keyword_setting: { keyword_weight: Math.round((1 - weight) * 100) / 100 } };
        } else if (fusion.value === "rrf") {
          chosen.rrf_k = Number(rrfK.value);
        } else if (reranker.value) {
          const [provider, name] = reranker.value.split("\u0000");
          chosen.reranking_model = { reranking_provider_name: provider, reranking_model_name: name };
        }
      }
      const conditions = [...rows.children].map((row) => row.read());
      if (conditions.length) chosen.metadata_filtering_conditions = { logical_operator: logical.value, conditions };
      return chosen;
    },
  };
}

function conditionValue(type, operator, text) {
  if (WITHOUT_VALUE.has(operator)) return null;
  if (operator === "in" || operator === "not in") return text.split(",").map((part) => part.trim()).filter(Boolean);
  return typedValue(type, text);
}
