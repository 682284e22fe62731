// The chunking settings of new documents (document form, process rule) and their preview.
import { api, dataset } from "./api.js";
import { field, h, replace, select } from "./dom.js";
import { DOC_FORMS } from "./labels.js";

// `initial` prefills it from a document: { doc_form, rule (its process rule), lockForm (the dataset's
// chunk structure cannot change) }.
export function chunkingPanel(initial = {}) {
  const rule = initial.rule || { mode: "automatic" };
  const rules = rule.rules || {};
  const segmentation = rules.segmentation || {};
  const child = rules.subchunk_segmentation || {};
  const cleaningOn = (id, otherwise) => (rules.pre_processing_rules || []).find((item) => item.id === id)?.enabled ?? otherwise;
  const docForm = select([["text_model", DOC_FORMS.text_model], ["hierarchical_model", DOC_FORMS.hierarchical_model], ["qa_model", DOC_FORMS.qa_model]],
    initial.doc_form || "text_model", { id: "doc-form", disabled: !!initial.lockForm });
  const mode = select([["automatic", "Automatic (500 characters, 50 overlap)"], ["custom", "Custom"]], rule.mode === "custom" ? "custom" : "automatic", { id: "chunk-mode" });
  const separator = h("input", { id: "chunk-separator", value: shownSeparator(rule.mode === "automatic" ? null : segmentation.separator, "\\n\\n") });
  const maxLength = h("input", { id: "chunk-max", type: "number", min: 50, max: 4000, value: rule.mode === "automatic" ? 500 : segmentation.max_tokens ?? 500 });
  const overlap = h("input", { id: "chunk-overlap", type: "number", min: 0, max: 4000, value: rule.mode === "automatic" ? 50 : segmentation.chunk_overlap ?? 50 });
  const parentMode = select([["paragraph", "Paragraphs"], ["full-doc", "The whole document"]], rules.parent_mode || "paragraph", { id: "parent-mode" });
  const childSeparator = h("input", { id: "child-separator", value: shownSeparator(child.separator, "\\n") });
  const childMax = h("input", { id: "child-max", type: "number", min: 50, max: 4000, value: child.max_tokens ?? 200 });
  const spaces = h("input", { type: "checkbox", id: "rule-spaces", checked: cleaningOn("remove_extra_spaces", true) });
  const urls = h("input", { type: "checkbox", id: "rule-urls", checked: cleaningOn("remove_urls_emails", false) });
  const custom = h("div", { class: "grid" }, field("Separator", separator, "\\n is a line break"), field("Maximum length", maxLength), field("Overlap", overlap));
  const parentChild = h("div", { class: "grid" }, field("Parent chunk", parentMode),
    field("Child separator", childSeparator), field("Child maximum length", childMax));
  const cleaning = h("fieldset", { class: "inline" }, h("legend", {}, "Cleaning"),
    h("label", {}, spaces, " Replace runs of spaces, newlines and tabs"), h("label", {}, urls, " Remove URLs and e-mail addresses"));

  function sync() {
    const hierarchical = docForm.value === "hierarchical_model";
    mode.disabled = hierarchical;
    custom.hidden = !hierarchical && mode.value === "automatic";
    overlap.closest(".field").hidden = hierarchical;
    parentChild.hidden = !hierarchical;
    cleaning.hidden = custom.hidden;
  }
  docForm.addEventListener("change", sync);
  mode.addEventListener("change", sync);
  sync();

  function preProcessing() {
    return [{ id: "remove_extra_spaces", enabled: spaces.checked }, { id: "remove_urls_emails", enabled: urls.checked }];
  }

  return {
    element: h("fieldset", { class: "card chunking" }, h("legend", {}, "Chunking"),
      h("div", { class: "grid" }, field("Chunk structure", docForm), field("Chunk size", mode)), custom, parentChild, cleaning),
    options() {
      const segmentation = { separator: separator.value, max_tokens: Number(maxLength.value), chunk_overlap: Number(overlap.value) };
      if (docForm.value === "hierarchical_model") {
        return { doc_form: docForm.value, process_rule: { mode: "hierarchical", rules: {
          pre_processing_rules: preProcessing(), parent_mode: parentMode.value,
          segmentation: { separator: separator.value, max_tokens: Number(maxLength.value) },
          subchunk_segmentation: { separator: childSeparator.value, max_tokens: Number(childMax.value), chunk_overlap: 0 },
        } } };
      }
      if (mode.value === "automatic") return { doc_form: docForm.value, process_rule: { mode: "automatic" } };
      return { doc_form: docForm.value, process_rule: { mode: "custom", rules: { pre_processing_rules: preProcessing(), segmentation } } };
    },
  };
}

// A stored separator as the box shows it: line breaks and tabs written as \n and \t.
function shownSeparator(stored, otherwise) {
  if (stored === undefined || stored === null) return otherwise;
  return stored.replaceAll("\n", "\\n").replaceAll("\t", "\\t");
}

// Shows how `source` would be chunked, without storing anything: pasted text, a File, or a stored
// document ({ documentId, name }) under another rule.
export async function previewChunks(datasetId, options, source, into) {
  let result;
  let title;
  if (source instanceof File) {
    const form = new FormData();
    form.append("file", source);
    form.append("data", JSON.stringify(options));
    result = await api("POST", `${dataset(datasetId)}/documents/preview`, form);
    title = `“${source.name}”`;
  } else if (source.documentId) {
    result = await api("POST", `${dataset(datasetId)}/documents/preview`, { ...options, document_id: source.documentId });
    title = `“${source.name}”`;
  } else {
    result = await api("POST", `${dataset(datasetId)}/documents/preview`, { ...options, text: source });
    title = "the pasted text";
  }
  const shown = result.segments.length;
  replace(into, h("p", { class: "muted", id: "preview-summary" }, `Preview of ${title}: ${result.total_segments} ${result.total_segments === 1 ? "chunk" : "chunks"}, ${result.total_characters.toLocaleString()} characters` +
    (shown < result.total_segments ? ` · the first ${shown} shown` : "")),
  h("ol", { class: "preview" }, result.segments.map((segment) => h("li", {},
    h("div", { class: "muted small" }, `#${segment.position} · ${segment.word_count} characters`),
    segment.context ? h("div", { class: "muted small context" }, `Indexed with: ${segment.context}`) : null,
    segment.answer !== null ? [h("p", {}, h("strong", {}, "Q: "), segment.content), h("p", {}, h("strong", {}, "A: "), segment.answer)]
      : h("p", { class: "content" }, segment.content),
    segment.child_chunks.length ? h("ul", { class: "children" }, segment.child_chunks.map((child) => h("li", {}, child))) : null))));
  return result;
}
