// The words the pages use for the API's codes, so every page names a thing the same way.

export const METHOD_NAMES = {
  semantic_search: "Vector", full_text_search: "Full-text", hybrid_search: "Hybrid", keyword_search: "Keyword",
};

export const DOC_FORMS = { text_model: "General chunks", hierarchical_model: "Parent-child chunks", qa_model: "Q&A pairs" };

const STATUS_WORDS = {
  queuing: "Queued", indexing: "Indexing", paused: "Paused", error: "Failed", available: "Available",
  disabled: "Disabled", archived: "Archived",
};

export function statusWord(status) {
  return STATUS_WORDS[status] || status;
}

// A model list of the API as choices: the value "provider\u0000model", the label the model's and its provider's names.
export function modelChoices(providers) {
  return providers.flatMap((provider) => provider.models.map((item) =>
    [`${provider.provider}\u0000${item.model}`, `${item.label?.en_US || item.model} · ${provider.label?.en_US || provider.provider}`]));
}

// Errors are stored as the pipeline words them; the few technical ones get a sentence a person can act on.
export function plainError(message) {
  if (/process pool|terminated abruptly/i.test(message)) return "The embedding model stopped while indexing. Retry the document.";
  if (/connection|timed? ?out|unreachable/i.test(message)) return `A service could not be reached: ${message} Retry later.`;
  return message;
}

// "Custom · chunks of up to 800 characters split at "\n\n", 80 overlapping · spaces collapsed".
export function ruleText(rule, docForm) {
  if (!rule) return "—";
  if (rule.mode === "automatic") return "Automatic · chunks of up to 500 characters, 50 overlapping";
  const rules = rule.rules || {};
  const segmentation = rules.segmentation || {};
  const parts = [rule.mode === "hierarchical" ? "Parent-child" : "Custom"];
  const separator = JSON.stringify(segmentation.separator ?? segmentation.delimiter ?? "").slice(1, -1);
  if (rule.mode === "hierarchical" && rules.parent_mode === "full-doc") {
    parts.push("the whole document is the parent");
  } else {
    parts.push(`${docForm === "hierarchical_model" ? "parents" : "chunks"} of up to ${segmentation.max_tokens} characters split at “${separator}”` +
      (segmentation.chunk_overlap ? `, ${segmentation.chunk_overlap} overlapping` : ""));
  }
  if (rules.subchunk_segmentation) {
    const child = rules.subchunk_segmentation;
    parts.push(`children of up to ${child.max_tokens} characters split at “${JSON.stringify(child.separator ?? "").slice(1, -1)}”`);
  }
  const cleaning = (rules.pre_processing_rules || []).filter((item) => item.enabled).map((item) => CLEANING[item.id] || item.id);
  if (cleaning.length) parts.push(cleaning.join(", "));
  return parts.join(" · ");
}

const CLEANING = { remove_extra_spaces: "runs of spaces collapsed", remove_urls_emails: "URLs and e-mail addresses removed" };
