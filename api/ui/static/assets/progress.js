// A document's indexing progress as it comes in: the stage, pages read, chunks embedded.
import { api, dataset } from "./api.js";
import { h } from "./dom.js";

export const IN_PROGRESS = new Set(["queuing", "indexing", "paused"]);
const STAGES = { waiting: "queued", parsing: "reading the file", cleaning: "cleaning", splitting: "chunking", indexing: "embedding", paused: "paused" };
const POLL_MILLISECONDS = 1500;

export function progressView(status) {
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

// Asks for the documents' progress until one finishes: onStatus(item) for each answer, then
// onFinished(). It stops by itself once `alive()` is false (the page was left). Returns a stop function.
export function watchProgress(datasetId, ids, { onStatus, onFinished, onError, alive }) {
  let timer = null;
  const tick = async () => {
    if (!alive()) return;
    try {
      const params = new URLSearchParams(ids.map((id) => ["document_id", id]));
      const status = await api("GET", `${dataset(datasetId)}/indexing-status?${params}`);
      status.data.forEach(onStatus);
      if (status.data.some((item) => ["completed", "error"].includes(item.indexing_status))) return onFinished();
      timer = setTimeout(tick, POLL_MILLISECONDS);
    } catch (error) {
      onError(error);
    }
  };
  if (ids.length) timer = setTimeout(tick, POLL_MILLISECONDS);
  return () => clearTimeout(timer);
}
