// Documents of a dataset: the list with live indexing progress, uploads, pasted text, actions.
import { api, dataset, upload } from "./api.js";
import { badge, confirmAction, datasetHeader, field, h, pager, replace, searchField, toast } from "./dom.js";
import { guarded, showError } from "./app.js";
import { chunkingPanel, previewChunks } from "./chunking.js";

const PAGE_SIZE = 20;
const POLL_MILLISECONDS = 1500;
const IN_PROGRESS = new Set(["queuing", "indexing", "paused"]);
const STAGES = { waiting: "queued", parsing: "reading the file", cleaning: "cleaning", splitting: "chunking", indexing: "embedding", paused: "paused" };
const PARALLEL_UPLOADS = 2;

export async function documentsPage(main, datasetId) {
  const current = await api("GET", dataset(datasetId));
  let page = 1;
  let keyword = "";
  let poller = null;
  const list = h("div", { class: "list", id: "documents" });
  const search = searchField("document-search", "Search by name", guarded((text) => { keyword = text; page = 1; return load(); }));

  async function load() {
    const params = new URLSearchParams({ page, limit: PAGE_SIZE });
    if (keyword) params.set("keyword", keyword);
    const result = await api("GET", `${dataset(datasetId)}/documents?${params}`);
    replace(list, result.data.length ? documentsTable(result.data) : h("p", { class: "empty" }, "No documents yet: upload files or paste text above."),
      pager(page, PAGE_SIZE, result.total, (next) => { page = next; load().catch(showError); }));
    watch(result.data.filter((item) => IN_PROGRESS.has(item.display_status)).map((item) => item.id));
  }

  // While documents index, their progress is asked for by id; the list reloads when one finishes.
  function watch(ids) {
    clearTimeout(poller);
    if (!ids.length) return;
    poller = setTimeout(async () => {
      if (!document.body.contains(list)) return;  // the page was left
      try {
        const params = new URLSearchParams(ids.map((id) => ["document_id", id]));
        const status = await api("GET", `${dataset(datasetId)}/indexing-status?${params}`);
        let finished = false;
        for (const item of status.data) {
          const cell = list.querySelector(`[data-progress="${item.id}"]`);
          if (cell) replace(cell, progress(item));
          finished ||= ["completed", "error"].includes(item.indexing_status);
        }
        if (finished) await load(); else watch(ids);
      } catch (error) {
        showError(error);
      }
    }, POLL_MILLISECONDS);
  }

  function documentsTable(items) {
    return h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Name", "Status", "Progress", "Words", "Hits", ""].map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, items.map((item) => h("tr", { "data-document": item.id },
        h("td", {}, h("a", { href: `/ui/datasets/${datasetId}/documents/${item.id}`, "data-link": true }, item.name),
          item.error ? h("p", { class: "error small" }, plainError(item.error)) : null),
        h("td", { "data-label": "Status" }, badge(item.display_status)),
        h("td", { "data-label": "Progress", "data-progress": item.id }, IN_PROGRESS.has(item.display_status) ? "…" : "—"),
        h("td", { "data-label": "Words" }, item.word_count.toLocaleString()),
        h("td", { "data-label": "Hits" }, String(item.hit_count)),
        h("td", { class: "actions" }, actions(item))))));
  }

  function actions(item) {
    const buttons = [];
    const act = (label, run, kind) => buttons.push(h("button", { type: "button", class: kind, onclick: async () => {
      try { await run(); await load(); } catch (error) { showError(error); }
    } }, label));
    const status = (action) => () => api("PATCH", `${dataset(datasetId)}/documents/status/${action}`, { document_ids: [item.id] });
    const state = item.display_status;
    if (state === "available") act("Disable", status("disable"));
    if (state === "disabled") act("Enable", status("enable"));
    if (["available", "disabled"].includes(state)) act("Archive", status("archive"));
    if (state === "archived") act("Unarchive", status("un_archive"));
    if (state === "error") act("Retry", () => api("POST", `${dataset(datasetId)}/retry`, { document_ids: [item.id] }));
    if (["queuing", "indexing"].includes(state)) act("Pause", () => api("POST", `${dataset(datasetId)}/documents/${item.id}/processing/pause`));
    if (state === "paused") act("Resume", () => api("POST", `${dataset(datasetId)}/documents/${item.id}/processing/resume`));
    if (state !== "archived") {
      act("Delete", async () => {
        if (!confirmAction(`Delete “${item.name}”?`)) return;
        await api("DELETE", `${dataset(datasetId)}/documents/${item.id}`);
        toast(`Deleted “${item.name}”.`);
      }, "danger");
    }
    return buttons;
  }

  replace(main, datasetHeader(current, "documents"), addDocuments(current, load),
    search, list);
  await load();
}

function progress(status) {
  const stage = STAGES[status.indexing_status] || status.indexing_status;
  const pages = status.extraction;
  if (status.indexing_status === "parsing" && pages && pages.pages_read !== undefined) {
    const reading = pages.ocr_pages.length ? `${stage} · page ${pages.pages_read} / ${pages.pages} (${pages.ocr_pages.length} by OCR)` : `${stage} · page ${pages.pages_read} / ${pages.pages}`;
    return h("div", { class: "progress-cell" },
      h("progress", { max: pages.pages, value: pages.pages_read, "aria-label": `Reading pages: ${pages.pages_read} of ${pages.pages}` }),
      h("span", { class: "small" }, reading));
  }
  const total = status.total_segments;
  const done = status.completed_segments;
  return h("div", { class: "progress-cell" },
    h("progress", { max: total || 1, value: total ? done : 0, "aria-label": `Indexing progress: ${done} of ${total} chunks` }),
    h("span", { class: "small" }, total ? `${stage} · ${done} / ${total}` : stage));
}

// Errors are stored as the pipeline words them; the few technical ones get a sentence a person can act on.
function plainError(message) {
  if (/process pool|terminated abruptly/i.test(message)) return "The embedding model stopped while indexing. Retry the document.";
  if (/connection|timed? ?out|unreachable/i.test(message)) return `A service could not be reached: ${message} Retry later.`;
  return message;
}

function addDocuments(current, reload) {
  const chunking = chunkingPanel();
  const previewBox = h("div", { class: "preview-box", id: "chunk-preview" });
  const files = [];
  const fileList = h("ul", { class: "uploads", id: "upload-list" });
  const picker = h("input", { type: "file", id: "file-picker", multiple: true });
  const drop = h("div", { class: "dropzone", id: "dropzone", tabindex: 0, role: "button", "aria-label": "Drop files here or press Enter to choose files" },
    h("p", {}, "Drop files here, or ", h("label", { for: "file-picker", class: "link" }, "choose files")), picker);
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); picker.click(); } });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); choose(event.dataTransfer.files); });
  picker.addEventListener("change", () => { choose(picker.files); picker.value = ""; });

  function choose(chosen) {
    for (const file of chosen) {
      const bar = h("progress", { max: 1, value: 0, "aria-label": `Upload of ${file.name}` });
      const state = h("span", { class: "small muted" }, "ready");
      files.push({ file, bar, state });
      fileList.append(h("li", {}, h("span", {}, file.name), bar, state));
    }
  }

  function options() {
    return { indexing_technique: current.indexing_technique || "high_quality", ...chunking.options() };
  }

  async function uploadAll() {
    const waiting = files.filter((entry) => entry.state.textContent === "ready" || entry.state.dataset.failed);
    if (!waiting.length) return toast("Choose files first.", "error");
    const queue = [...waiting];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        const form = new FormData();
        form.append("file", entry.file);
        form.append("data", JSON.stringify(options()));
        entry.state.textContent = "uploading";
        delete entry.state.dataset.failed;
        try {
          await upload(`${dataset(current.id)}/document/create-by-file`, form, (fraction) => { entry.bar.value = fraction; });
          entry.bar.value = 1;
          entry.state.textContent = "uploaded";
        } catch (error) {
          entry.state.textContent = error.message;
          entry.state.dataset.failed = "1";
          entry.state.className = "small error";
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
    await reload();
  }

  const name = h("input", { id: "text-name", maxlength: 255 });
  const text = h("textarea", { id: "text-content", rows: 6 });
  async function createFromText() {
    if (!name.value.trim() || !text.value.trim()) return toast("A name and some text are needed.", "error");
    await api("POST", `${dataset(current.id)}/document/create-by-text`, { name: name.value.trim(), text: text.value, ...options() });
    toast(`Added “${name.value.trim()}”.`);
    name.value = "";
    text.value = "";
    await reload();
  }

  async function preview() {
    const source = text.value.trim() ? text.value : files.find((entry) => entry.state.textContent !== "uploaded")?.file;
    if (!source) return toast("Paste text or choose a file to preview its chunks.", "error");
    await previewChunks(current.id, chunking.options(), source, previewBox);
  }

  return h("details", { class: "card", open: current.document_count === 0 }, h("summary", {}, "Add documents"),
    h("div", { class: "columns" },
      h("section", {}, h("h2", {}, "Files"), drop, fileList,
        h("button", { type: "button", class: "primary", id: "upload-files", onclick: guarded(uploadAll) }, "Upload and index")),
      h("section", {}, h("h2", {}, "Text"), field("Name", name), field("Text", text),
        h("button", { type: "button", class: "primary", id: "create-text", onclick: guarded(createFromText) }, "Add text"))),
    chunking.element,
    h("button", { type: "button", id: "preview-chunks", onclick: guarded(preview) }, "Preview chunks"), previewBox);
}
