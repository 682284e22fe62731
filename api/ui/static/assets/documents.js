// Documents of a dataset: the list with live indexing progress, one document's actions, and the
// same actions (with metadata values) on every selected document at once.
import { api, dataset } from "./api.js";
import { badge, confirmAction, datasetHeader, h, pager, replace, searchField, toast } from "./dom.js";
import { guarded, showError } from "./app.js";
import { addDocuments } from "./add_documents.js";
import { plainError, statusWord } from "./labels.js";
import { batchMetadataForm, metadataFields } from "./metadata_values.js";
import { IN_PROGRESS, progressView, watchProgress } from "./progress.js";

const PAGE_SIZE = 20;
const BATCH_PARALLEL = 4;

export async function documentsPage(main, datasetId) {
  const [current, fields] = await Promise.all([api("GET", dataset(datasetId)), metadataFields(datasetId)]);
  const base = dataset(datasetId);
  let page = 1;
  let keyword = "";
  let shown = [];
  let stopWatching = () => {};
  const selected = new Set();
  const list = h("div", { class: "list", id: "documents" });
  const selectedCount = h("strong", { id: "selected-count" });
  const batchBar = h("section", { class: "card batch", id: "batch-bar", "aria-label": "Selected documents", hidden: true },
    h("p", { class: "inline spread" }, selectedCount,
      h("button", { type: "button", class: "link", onclick: () => { selected.clear(); syncSelection(); } }, "Clear the selection")),
    h("div", { class: "actions" }, Object.entries(ACTIONS).map(([key, action]) =>
      h("button", { type: "button", class: action.kind, "data-batch": key, onclick: guarded(() => runBatch(action)) }, action.label))),
    fields.doc_metadata.length ? batchMetadataForm(fields.doc_metadata, guarded(setMetadata)) : null);
  const outcomes = h("div", { id: "batch-results", "aria-live": "polite" });
  const search = searchField("document-search", "Search by name", guarded((text) => { keyword = text; page = 1; return load(); }));

  async function load() {
    const params = new URLSearchParams({ page, limit: PAGE_SIZE });
    if (keyword) params.set("keyword", keyword);
    const result = await api("GET", `${base}/documents?${params}`);
    shown = result.data;
    selected.clear();
    replace(list, shown.length ? documentsTable(shown) : h("p", { class: "empty" }, keyword
      ? "No document has that name." : "No documents yet: upload files or paste text above."),
    pager(page, PAGE_SIZE, result.total, (next) => { page = next; load().catch(showError); }));
    syncSelection();
    stopWatching();
    stopWatching = watchProgress(datasetId, shown.filter((item) => IN_PROGRESS.has(item.display_status)).map((item) => item.id), {
      onStatus: (item) => { const cell = list.querySelector(`[data-progress="${item.id}"]`); if (cell) replace(cell, progressView(item)); },
      onFinished: () => load().catch(showError),
      onError: showError,
      alive: () => document.body.contains(list),
    });
  }

  function documentsTable(items) {
    const all = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select every document on this page", onchange: () => {
      for (const item of items) all.checked ? selected.add(item.id) : selected.delete(item.id);
      syncSelection();
    } });
    return h("table", { class: "table selectable" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "select" }, all),
        ["Name", "Status", "Progress", "Characters", "Hits", ""].map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, items.map((item) => h("tr", { "data-document": item.id },
        h("td", { class: "select" }, h("input", { type: "checkbox", "aria-label": `Select “${item.name}”`, "data-select": item.id, onchange: (event) => {
          event.target.checked ? selected.add(item.id) : selected.delete(item.id);
          syncSelection();
        } })),
        h("td", {}, h("a", { href: `/ui/datasets/${datasetId}/documents/${item.id}`, "data-link": true }, item.name),
          item.error ? h("p", { class: "error small" }, plainError(item.error)) : null),
        h("td", { "data-label": "Status" }, badge(statusWord(item.display_status), item.display_status)),
        h("td", { "data-label": "Progress", "data-progress": item.id }, IN_PROGRESS.has(item.display_status) ? "…" : "—"),
        h("td", { "data-label": "Characters", "data-characters": "" }, item.word_count.toLocaleString()),
        h("td", { "data-label": "Hits" }, String(item.hit_count)),
        h("td", { class: "actions" }, actions(item))))));
  }

  function actions(item) {
    const buttons = [];
    const act = (label, run, kind) => buttons.push(h("button", { type: "button", class: kind, onclick: async () => {
      try { await run(); await load(); } catch (error) { showError(error); }
    } }, label));
    const state = item.display_status;
    if (state === "available") act("Disable", () => ACTIONS.disable.run(base, item));
    if (state === "disabled") act("Enable", () => ACTIONS.enable.run(base, item));
    if (["available", "disabled"].includes(state)) act("Archive", () => ACTIONS.archive.run(base, item));
    if (state === "archived") act("Unarchive", () => ACTIONS.un_archive.run(base, item));
    if (state === "error") act("Retry", () => ACTIONS.retry.run(base, item));
    if (["queuing", "indexing"].includes(state)) act("Pause", () => api("POST", `${base}/documents/${item.id}/processing/pause`));
    if (state === "paused") act("Resume", () => api("POST", `${base}/documents/${item.id}/processing/resume`));
    if (state !== "archived") {
      act("Delete", async () => {
        if (!confirmAction(`Delete “${item.name}”?`)) return;
        await ACTIONS.delete.run(base, item);
        toast(`Deleted “${item.name}”.`);
      }, "danger");
    }
    return buttons;
  }

  function syncSelection() {
    for (const box of list.querySelectorAll("[data-select]")) box.checked = selected.has(box.dataset.select);
    const all = list.querySelector("#select-all");
    if (all) {
      all.checked = shown.length > 0 && selected.size === shown.length;
      all.indeterminate = selected.size > 0 && selected.size < shown.length;
    }
    batchBar.hidden = selected.size === 0;
    selectedCount.textContent = `${selected.size} selected`;
  }

  function chosen() {
    return shown.filter((item) => selected.has(item.id));
  }

  async function runBatch(action) {
    const items = chosen();
    if (action.confirm && !confirmAction(action.confirm(items.length))) return;
    const errors = new Map();
    const queue = [...items];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        try { await action.run(base, item); } catch (error) { errors.set(item.id, error.message); }
      }
    };
    await Promise.all(Array.from({ length: BATCH_PARALLEL }, worker));
    report(action.label, items, errors);
    await load();
  }

  async function setMetadata(value) {
    if (value.value === null) return toast("Type a value first.", "error");
    const items = chosen();
    const errors = new Map();
    try {
      await api("POST", `${base}/documents/metadata`, { operation_data: items.map((item) => (
        { document_id: item.id, metadata_list: [value], partial_update: true })) });
    } catch (error) {
      for (const item of items) errors.set(item.id, error.message);
    }
    report(`Set ${value.name}`, items, errors);
    await load();
  }

  function report(label, items, errors) {
    const done = items.length - errors.size;
    replace(outcomes, h("section", { class: "card", "aria-label": "Result of the last action" },
      h("p", { class: "inline spread" }, h("strong", {}, `${label}: ${done} of ${items.length} done`),
        h("button", { type: "button", class: "link", onclick: () => replace(outcomes) }, "Dismiss")),
      h("ul", { class: "outcomes" }, items.map((item) => h("li", { "data-outcome": item.id },
        h("span", {}, item.name), " · ",
        errors.has(item.id) ? h("span", { class: "error" }, errors.get(item.id)) : h("span", { class: "ok" }, "done"))))));
  }

  replace(main, datasetHeader(current, "documents"), addDocuments(current, load), search, batchBar, outcomes, list);
  await load();
}

// What may be done to one document or to every selected one; each `run` makes the API call for one.
const status = (action) => (base, item) => api("PATCH", `${base}/documents/status/${action}`, { document_ids: [item.id] });
const ACTIONS = {
  enable: { label: "Enable", run: status("enable") },
  disable: { label: "Disable", run: status("disable") },
  archive: { label: "Archive", run: status("archive") },
  un_archive: { label: "Unarchive", run: status("un_archive") },
  retry: { label: "Retry", run: (base, item) => api("POST", `${base}/retry`, { document_ids: [item.id] }) },
  reindex: { label: "Re-index", run: (base, item) => api("POST", `${base}/documents/${item.id}/update-by-text`, { doc_form: item.doc_form }) },
  delete: { label: "Delete", kind: "danger", confirm: (count) => `Delete ${count === 1 ? "this document" : `these ${count} documents`}?`,
    run: (base, item) => api("DELETE", `${base}/documents/${item.id}`) },
};
