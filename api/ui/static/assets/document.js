// One document: what it is and how it was indexed, its file, its metadata values, a rename, and a
// re-index under another rule (previewed first); its chunks are one click away.
import { api, dataset } from "./api.js";
import { badge, datasetHeader, field, h, replace, toast, when } from "./dom.js";
import { guarded, showError } from "./app.js";
import { chunkingPanel, previewChunks } from "./chunking.js";
import { DOC_FORMS, plainError, ruleText, statusWord } from "./labels.js";
import { metadataEditor, metadataFields } from "./metadata_values.js";
import { IN_PROGRESS, progressView, watchProgress } from "./progress.js";

const STAGE_NAMES = { reading: "reading", cleaning: "cleaning", chunking: "chunking", indexing: "embedding and indexing" };

export async function documentPage(main, datasetId, documentId) {
  const base = `${dataset(datasetId)}/documents/${encodeURIComponent(documentId)}`;
  const [current, doc, fields] = await Promise.all([api("GET", dataset(datasetId)), api("GET", base), metadataFields(datasetId)]);
  const reload = () => documentPage(main, datasetId, documentId).catch(showError);
  const available = doc.display_status === "available";
  const progressSlot = h("div", { id: "document-progress" });

  replace(main, datasetHeader(current, "documents"),
    h("p", { class: "crumbs" }, h("a", { href: `/ui/datasets/${datasetId}`, "data-link": true }, "‹ All documents")),
    h("h2", { id: "document-name" }, doc.name, " ", badge(statusWord(doc.display_status), doc.display_status)),
    doc.error ? h("p", { class: "error", role: "alert" }, plainError(doc.error)) : null,
    progressSlot,
    h("section", { class: "card", id: "document-facts", "aria-label": "About this document" },
      facts(doc, datasetId, base),
      h("a", { class: "button", id: "open-chunks", href: `/ui/datasets/${datasetId}/documents/${doc.id}/segments`, "data-link": true },
        `Open its ${doc.segment_count === 1 ? "chunk" : `${doc.segment_count} chunks`}`)),
    renameSection(doc, base, available, reload),
    metadataSection(doc, fields, datasetId, reload),
    reindexSection(current, doc, base, available, reload));

  if (IN_PROGRESS.has(doc.display_status)) {
    replace(progressSlot, "…");
    watchProgress(datasetId, [doc.id], {
      onStatus: (item) => replace(progressSlot, progressView(item)),
      onFinished: reload,
      onError: showError,
      alive: () => document.body.contains(progressSlot),
    });
  }
}

function facts(doc, datasetId, base) {
  const pages = doc.extraction?.pages;
  const ocr = doc.extraction?.ocr_pages || [];
  const rows = [
    ["Source", source(doc, base)],
    ["Chunk structure", DOC_FORMS[doc.doc_form] || doc.doc_form],
    ["Processing rule", ruleText(doc.document_process_rule, doc.doc_form)],
    ["Pages", pages ? [String(pages), ocr.length ? ` · read by OCR: ${ocr.length === pages ? "all" : `page${ocr.length === 1 ? "" : "s"} ${ocr.join(", ")}`}` : ""] : "—"],
    ["Chunks", String(doc.segment_count)],
    ["Characters", doc.word_count.toLocaleString()],
    ["Tokens", doc.tokens.toLocaleString()],
    ["Hits", String(doc.hit_count)],
    ["Added", when(doc.created_at)],
    ["Indexed", doc.completed_at ? `${when(doc.completed_at)}${doc.indexing_latency ? ` in ${seconds(doc.indexing_latency)}` : ""}` : "—"],
    ["Stages", doc.stage_seconds ? Object.entries(doc.stage_seconds).map(([stage, spent]) => `${STAGE_NAMES[stage] || stage} ${seconds(spent)}`).join(" · ") : "—"],
  ];
  return h("dl", { class: "facts" }, rows.map(([label, value]) => [h("dt", {}, label), h("dd", { "data-fact": label }, value)]));
}

function seconds(value) {
  return value < 10 ? `${value.toFixed(1)} s` : `${Math.round(value)} s`;
}

// An uploaded file (or pasted text) can be viewed and downloaded through a fresh signed link; an online
// document shows where it came from.
function source(doc, base) {
  const info = doc.data_source_info || {};
  if (doc.data_source_type !== "upload_file" || !info.upload_file) return info.url || info.notion_page_id || doc.data_source_type;
  const file = info.upload_file;
  const open = (download) => guarded(async () => {
    const links = await api("GET", `${base}/upload-file`);
    const link = h("a", { href: localPath(download ? links.download_url : links.url), target: download ? null : "_blank", download: download ? file.name : null });
    document.body.append(link);
    link.click();
    link.remove();
  });
  return [`${file.name} · ${sizeText(file.size)} `,
    h("button", { type: "button", id: "view-file", onclick: open(false) }, "View"), " ",
    h("button", { type: "button", id: "download-file", onclick: open(true) }, "Download")];
}

// Signed links are absolute; the page only follows links inside this site.
function localPath(url) {
  const parsed = new URL(url, location.origin);
  return parsed.pathname + parsed.search;
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function renameSection(doc, base, available, reload) {
  const name = h("input", { id: "document-rename", value: doc.name, maxlength: 255, required: true, disabled: !available });
  return h("section", { class: "card", id: "rename" }, h("h3", {}, "Name"),
    h("form", { class: "inline", onsubmit: guarded(async (event) => {
      event.preventDefault();
      if (!name.value.trim() || name.value.trim() === doc.name) return;
      await api("POST", `${base}/update-by-text`, { name: name.value.trim(), doc_form: doc.doc_form });
      toast("Renamed: the document is re-indexed so that its chunks carry the new name.");
      await reload();
    }) }, field("New name", name), h("button", { type: "submit", disabled: !available }, "Rename")),
    h("p", { class: "muted small" }, available
      ? "Each chunk is indexed with its document's name, so renaming re-indexes the document."
      : "A document can be renamed once it is available (indexed, enabled and not archived)."));
}

function metadataSection(doc, fields, datasetId, reload) {
  const box = h("section", { class: "card", id: "document-metadata" }, h("h3", {}, "Metadata"));
  if (!fields.doc_metadata.length && !fields.built_in_field_enabled) {
    box.append(h("p", { class: "muted" }, "This dataset has no metadata fields yet: ",
      h("a", { href: `/ui/datasets/${datasetId}/settings`, "data-link": true }, "add them in Settings"), "."));
    return box;
  }
  const editor = metadataEditor(fields, doc.doc_metadata || []);
  box.append(editor.element);
  if (fields.doc_metadata.length) {
    box.append(h("button", { type: "button", class: "primary", id: "save-metadata", onclick: guarded(async () => {
      await api("POST", `${dataset(datasetId)}/documents/metadata`,
        { operation_data: [{ document_id: doc.id, metadata_list: editor.read(), partial_update: false }] });
      toast("Metadata saved: searches filter on it now.");
      await reload();
    }) }, "Save metadata"), h("p", { class: "muted small" }, "An empty value removes the field from this document."));
  }
  return box;
}

function reindexSection(current, doc, base, available, reload) {
  const chunking = chunkingPanel({ doc_form: doc.doc_form, rule: doc.document_process_rule, lockForm: true });
  const previewBox = h("div", { class: "preview-box", id: "reindex-preview" });
  return h("details", { class: "card", id: "reindex" }, h("summary", {}, "Re-index with another rule"),
    h("p", { class: "muted small" }, "The chunk structure is the dataset's and stays. Until the new chunks are ready, searches keep finding the old ones."),
    chunking.element,
    h("div", { class: "actions" },
      h("button", { type: "button", id: "preview-reindex", onclick: guarded(() =>
        previewChunks(current.id, chunking.options(), { documentId: doc.id, name: doc.name }, previewBox)) }, "Preview chunks"),
      h("button", { type: "button", class: "primary", id: "run-reindex", disabled: !available, onclick: guarded(async () => {
        const { process_rule: rule } = chunking.options();
        await api("POST", `${base}/update-by-text`, { process_rule: rule, doc_form: doc.doc_form });
        toast("Re-indexing with the new rule.");
        await reload();
      }) }, "Re-index")),
    available ? null : h("p", { class: "muted small" }, "A document can be re-indexed once it is available."),
    previewBox);
}
