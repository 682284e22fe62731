// Segments (chunks) of one document: search, read, edit content and keywords, add, disable, delete.
import { api, dataset } from "./api.js";
import { badge, confirmAction, datasetHeader, field, h, pager, placeText, replace, searchField, toast } from "./dom.js";
import { guarded, showError } from "./app.js";
import { DOC_FORMS, plainError, statusWord } from "./labels.js";

const PAGE_SIZE = 20;

export async function segmentsPage(main, datasetId, documentId, query) {
  const base = `${dataset(datasetId)}/documents/${encodeURIComponent(documentId)}`;
  const [current, doc] = await Promise.all([api("GET", dataset(datasetId)), api("GET", `${base}?metadata=without`)]);
  const focus = query.get("segment");
  let page = Math.max(1, Math.ceil(Number(query.get("position") || 1) / PAGE_SIZE));
  let keyword = "";
  const isQa = doc.doc_form === "qa_model";
  const list = h("div", { class: "segments", id: "segments" });
  const search = searchField("segment-search", "Search in chunks", guarded((text) => { keyword = text; page = 1; return load(); }));

  async function load() {
    const params = new URLSearchParams({ page, limit: PAGE_SIZE });
    if (keyword) params.set("keyword", keyword);
    const result = await api("GET", `${base}/segments?${params}`);
    replace(list, result.data.length ? result.data.map(card) : h("p", { class: "empty" }, keyword ? "No chunk holds those words." : "This document has no chunks yet."),
      pager(page, PAGE_SIZE, result.total, (next) => { page = next; load().catch(showError); }));
    const focused = focus && list.querySelector(`[data-segment="${CSS.escape(focus)}"]`);
    if (focused) { focused.classList.add("focused"); focused.scrollIntoView({ block: "center" }); }
  }

  async function change(segment, changes, message) {
    await api("POST", `${base}/segments/${segment.id}`, { segment: changes });
    toast(message);
    await load();
  }

  function card(segment) {
    const body = h("div", {}, isQa
      ? [h("p", { class: "content" }, h("strong", {}, "Q: "), segment.content), h("p", { class: "content" }, h("strong", {}, "A: "), segment.answer || "")]
      : h("p", { class: "content" }, segment.content),
    segment.child_chunks.length ? h("ol", { class: "children", "aria-label": "Child chunks" },
      segment.child_chunks.map((child) => h("li", {}, h("span", { class: "muted small" }, `child ${child.position} · `), child.content))) : null,
    segment.keywords?.length ? h("p", { class: "keywords" }, segment.keywords.map((word) => badge(word, "keyword"))) : null,
    segment.context ? h("p", { class: "muted small context", title: "Read by search before the chunk's text" }, `Indexed with: ${segment.context}`) : null);
    const article = h("article", { class: `card segment${segment.enabled ? "" : " disabled"}`, "data-segment": segment.id },
      h("header", {}, h("strong", {}, `#${segment.position}`),
        h("span", { class: "muted small" }, ` · ${segment.word_count} characters · ${segment.hit_count} hits · `,
          placeText(segment) ? `${placeText(segment)} · ` : null),
        badge(segment.enabled ? "enabled" : "disabled"), segment.status !== "completed" ? badge(segment.status) : null),
      body,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => replace(article, editor(segment, article)) }, "Edit"),
        h("button", { type: "button", onclick: guarded(() => change(segment, { enabled: !segment.enabled }, segment.enabled ? "Chunk disabled." : "Chunk enabled.")) },
          segment.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "danger", onclick: guarded(async () => {
          if (!confirmAction(`Delete chunk #${segment.position}?`)) return;
          await api("DELETE", `${base}/segments/${segment.id}`);
          toast("Chunk deleted.");
          await load();
        }) }, "Delete")));
    return article;
  }

  function editor(segment, article) {
    const content = h("textarea", { rows: 6, id: `edit-content-${segment.id}`, value: segment.content });
    const answer = isQa ? h("textarea", { rows: 4, id: `edit-answer-${segment.id}`, value: segment.answer || "" }) : null;
    const keywords = h("input", { id: `edit-keywords-${segment.id}`, value: (segment.keywords || []).join(", ") });
    return h("form", { class: "editor", onsubmit: guarded(async (event) => {
      event.preventDefault();
      const changes = { content: content.value, keywords: splitKeywords(keywords.value) };
      if (isQa) changes.answer = answer.value;
      if (doc.doc_form === "hierarchical_model") changes.regenerate_child_chunks = true;
      await change(segment, changes, "Chunk saved; it is searchable now.");
    }) },
    field(isQa ? "Question" : "Content", content), answer ? field("Answer", answer) : null,
    field("Keywords", keywords, "comma-separated"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: () => article.replaceWith(card(segment)) }, "Cancel")));
  }

  function addForm() {
    const content = h("textarea", { rows: 4, id: "new-segment-content" });
    const answer = isQa ? h("textarea", { rows: 3, id: "new-segment-answer" }) : null;
    const keywords = h("input", { id: "new-segment-keywords" });
    return h("details", { class: "card" }, h("summary", {}, "Add a chunk"),
      h("form", { onsubmit: guarded(async (event) => {
        event.preventDefault();
        const item = { content: content.value, keywords: splitKeywords(keywords.value) };
        if (isQa) item.answer = answer.value;
        await api("POST", `${base}/segments`, { segments: [item] });
        content.value = "";
        keywords.value = "";
        toast("Chunk added.");
        await load();
      }) }, field(isQa ? "Question" : "Content", content), answer ? field("Answer", answer) : null,
      field("Keywords", keywords, "comma-separated, optional"), h("button", { type: "submit", class: "primary" }, "Add")));
  }

  replace(main, datasetHeader(current, "documents"),
    h("p", { class: "crumbs" }, h("a", { href: `/ui/datasets/${datasetId}`, "data-link": true }, "All documents"), " / ",
      h("a", { href: `/ui/datasets/${datasetId}/documents/${doc.id}`, "data-link": true }, doc.name), " / chunks"),
    h("h2", {}, `Chunks of “${doc.name}” `, badge(statusWord(doc.display_status), doc.display_status)),
    h("p", { class: "muted" }, `${doc.segment_count} chunks · ${doc.word_count.toLocaleString()} characters · ${doc.hit_count} hits · ${DOC_FORMS[doc.doc_form] || doc.doc_form}`),
    doc.error ? h("p", { class: "error" }, plainError(doc.error)) : null,
    doc.archived ? null : addForm(), search, list);
  await load();
}

function splitKeywords(text) {
  return text.split(",").map((word) => word.trim()).filter(Boolean);
}
