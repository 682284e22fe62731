// Hit-testing: run a query with temporary settings and see why each chunk ranks where it does:
// each leg's raw score, rank and probability of relevance, the fused probability (and the rerank
// model's score beside it), the matched words, and where the time went. Records re-run past queries.
import { api, dataset } from "./api.js";
import { badge, datasetHeader, h, highlighted, pager, placeText, replace, toast, when } from "./dom.js";
import { showError } from "./app.js";
import { METHOD_NAMES } from "./labels.js";
import { retrievalPanel } from "./retrieval_settings.js";

const MAX_QUERY = 250;
const RECORDS_PAGE = 10;
const SOURCES = { hit_testing: "Hit-testing", external: "External /retrieval", multi_retrieval: "App retrieval" };
const STAGES = [["query_embedding", "query embedding"], ["vector_search", "vector search"], ["keyword_search", "keyword search"], ["fusion", "fusion"], ["rerank", "rerank"], ["rendering", "rendering"]];

export async function hitTestingPage(main, datasetId) {
  const current = await api("GET", dataset(datasetId));
  const economy = current.indexing_technique === "economy";
  let panel = await retrievalPanel(datasetId, current.retrieval_model_dict || {}, { economy, temporary: true });
  const panelSlot = h("div", {}, panel.element);
  const query = h("textarea", { id: "query", rows: 3, maxlength: MAX_QUERY, placeholder: "Ask what a user would ask" });
  const counter = h("span", { class: "counter", id: "query-counter", "aria-live": "polite" }, `0 / ${MAX_QUERY}`);
  query.addEventListener("input", () => { counter.textContent = `${query.value.length} / ${MAX_QUERY}`; });
  query.addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) run(); });
  const results = h("section", { id: "results", "aria-label": "Results" });
  const records = h("section", { id: "records", class: "card" });
  let recordsPage = 1;

  async function run() {
    if (!query.value.trim()) return toast("Type a query first.", "error");
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const body = await api("POST", `${dataset(datasetId)}/hit-testing`, { query: query.value, retrieval_model: panel.read() });
      showResults(body);
      recordsPage = 1;
      await loadRecords();
    } catch (error) {
      replace(results, h("p", { class: "error", role: "alert" }, error.message));
    }
  }

  function showResults(body) {
    const byDocument = new Map();
    for (const record of body.records) {
      const doc = record.segment.document;
      byDocument.set(doc.id, { name: doc.name, count: (byDocument.get(doc.id)?.count || 0) + 1 });
    }
    const cards = h("ol", { class: "results" }, body.records.map((record, index) => resultCard(record, index + 1)));
    const filter = h("div", { class: "chips", role: "group", "aria-label": "Filter by document" },
      h("button", { type: "button", "aria-pressed": "true", onclick: (event) => only(null, event.target) }, `All (${body.records.length})`),
      [...byDocument].map(([id, item]) => h("button", { type: "button", "aria-pressed": "false", onclick: (event) => only(id, event.target) }, `${item.name} (${item.count})`)));
    function only(documentId, button) {
      for (const chip of filter.children) chip.setAttribute("aria-pressed", String(chip === button));
      for (const card of cards.children) card.hidden = documentId !== null && card.dataset.document !== documentId;
    }
    const timings = body.timings_ms || {};
    // In hybrid search the query is embedded while the keyword leg runs; alone, it is just a step.
    const parallel = timings.query_embedding > 0 && timings.keyword_search > 0;
    const split = STAGES.filter(([key]) => timings[key] > 0).map(([key, label]) =>
      `${label}${key === "query_embedding" && parallel ? " (beside the keyword search)" : ""} ${timings[key].toFixed(1)} ms`);
    replace(results,
      h("p", { class: "summary", id: "summary" }, h("strong", {}, body.records.length === 1 ? "1 record" : `${body.records.length} records`),
        ` · ${split.join(" · ")}${split.length ? " · " : ""}total ${(Number(timings.total || 0) + Number(timings.rendering || 0)).toFixed(1)} ms`),
      body.records.length ? [scoreNote(body.records), filter, cards] : h("p", { class: "empty" }, "Nothing matched. Try other words, another method or a lower threshold."));
  }

  function resultCard(record, rank) {
    const segment = record.segment;
    const details = record.score_details || {};
    const legs = [];
    if (details.vector_score !== null && details.vector_score !== undefined) legs.push(leg("vector", "cosine", details.vector_score, details.vector_probability, details.vector_rank));
    if (details.keyword_score !== null && details.keyword_score !== undefined) legs.push(leg("keyword", "BM25", details.keyword_score, details.keyword_probability, details.keyword_rank));
    if (details.rerank_score !== null && details.rerank_score !== undefined && details.retrieval_score !== null && details.retrieval_score !== undefined) {
      legs.push(h("span", { class: "leg", "data-leg": "retrieval" }, `retrieval ${details.retrieval_score.toFixed(2)} → rerank ${details.rerank_score.toFixed(2)}`));
    }
    const link = `/ui/datasets/${datasetId}/documents/${segment.document.id}/segments?segment=${segment.id}&position=${segment.position}`;
    return h("li", { class: "card result", "data-document": segment.document.id },
      h("div", { class: "score" }, h("span", { class: "rank" }, `#${rank}`),
        h("meter", { min: 0, max: 1, value: record.score, "aria-label": "Score" }),
        h("strong", { class: "score-value", title: details.rerank_score != null ? "The rerank model's score" : "Estimated probability that this chunk is relevant" }, record.score.toFixed(2)),
        h("span", { class: "legs" }, legs)),
      segment.answer
        ? [h("p", { class: "content" }, h("strong", {}, "Q: "), highlighted(segment.content, record.highlights?.content)),
          h("p", { class: "content" }, h("strong", {}, "A: "), highlighted(segment.answer, record.highlights?.answer))]
        : h("p", { class: "content" }, highlighted(segment.content, record.highlights?.content)),
      record.child_chunks.length ? h("ol", { class: "children", "aria-label": "Matched child chunks" }, record.child_chunks.map((child) =>
        h("li", {}, h("span", { class: "badge" }, child.score.toFixed(2)), " ", highlighted(child.content, child.highlights)))) : null,
      h("p", { class: "meta small" }, h("a", { href: link, "data-link": true }, segment.document.name),
        ` · chunk #${segment.position} · ${segment.word_count} characters`,
        placeText(record) ? h("span", { class: "place" }, ` · ${placeText(record)}`) : null,
        segment.keywords?.length ? [" · ", segment.keywords.slice(0, 8).map((word) => badge(word, "keyword"))] : null));
  }

  async function loadRecords() {
    const result = await api("GET", `${dataset(datasetId)}/queries?page=${recordsPage}&limit=${RECORDS_PAGE}`);
    replace(records, h("h2", {}, "Records"),
      result.data.length ? h("table", { class: "table" },
        h("thead", {}, h("tr", {}, ["Query", "Source", "Method", "Time"].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", {}, result.data.map((row) => h("tr", {},
          h("td", {}, h("button", { type: "button", class: "link", title: "Run again with these settings", onclick: () => rerun(row) }, row.content)),
          h("td", { "data-label": "Source" }, SOURCES[row.source] || row.source),
          h("td", { "data-label": "Method" }, METHOD_NAMES[row.retrieval_model?.search_method] || row.retrieval_model?.search_method || "—"),
          h("td", { "data-label": "Time" }, when(row.created_at))))))
        : h("p", { class: "muted" }, "No queries yet."),
      pager(recordsPage, RECORDS_PAGE, result.total, (next) => { recordsPage = next; loadRecords().catch(showError); }));
  }

  async function rerun(row) {
    query.value = row.content;
    counter.textContent = `${query.value.length} / ${MAX_QUERY}`;
    if (row.retrieval_model) {
      panel = await retrievalPanel(datasetId, row.retrieval_model, { economy, temporary: true });
      replace(panelSlot, panel.element);
    }
    await run();
  }

  async function saveDefault() {
    try {
      await api("PATCH", dataset(datasetId), { retrieval_model: panel.read() });
      toast("Saved as the dataset's default retrieval settings.");
    } catch (error) {
      showError(error);
    }
  }

  replace(main, datasetHeader(current, "hit-testing"),
    h("div", { class: "columns hit-testing" },
      h("section", {},
        h("form", { class: "card", onsubmit: (event) => { event.preventDefault(); run(); } },
          h("label", { for: "query" }, "Query"), query,
          h("div", { class: "inline spread" }, counter, h("button", { type: "submit", class: "primary", id: "run-query" }, "Test"))),
        panelSlot,
        h("button", { type: "button", id: "save-default", onclick: saveDefault }, "Save as the dataset's default")),
      h("section", {}, results, records)));
  await loadRecords();
}

function leg(name, measure, score, probability, rank) {
  const chance = probability === null || probability === undefined ? "" : ` → ${probability.toFixed(2)}`;
  return h("span", { class: `leg leg-${name}`, "data-leg": name, title: `${measure} ${score.toFixed(3)}; probability of relevance${chance}` },
    `${name} ${score.toFixed(2)}${chance}`, rank ? ` (#${rank})` : " (not recalled)");
}

// What the scores mean, and what the usual thresholds would keep of these records.
function scoreNote(records) {
  const reranked = records.some((record) => record.score_details?.rerank_score != null);
  const kept = (threshold) => records.filter((record) => record.score >= threshold).length;
  return h("p", { class: "muted small", id: "score-note" },
    reranked ? "Scores are the rerank model's; the retrieval's probability stands beside each. "
      : "Scores are estimated probabilities of relevance (each leg: its raw score → its probability). ",
    `A threshold of 0.5 (more likely relevant than not) would keep ${kept(0.5)} of these ${records.length} records; 0.3, a lenient floor, would keep ${kept(0.3)}.`);
}
