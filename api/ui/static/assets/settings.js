// Dataset settings: name, description, who can use it, index, embedding model, default retrieval,
// metadata fields and built-in fields, and the sync schedule of online-source datasets.
import { api, dataset } from "./api.js";
import { confirmAction, datasetHeader, field, h, replace, select, toast } from "./dom.js";
import { showError } from "./app.js";
import { modelChoices } from "./labels.js";
import { retrievalPanel } from "./retrieval_settings.js";

const ONLINE_SOURCES = new Set(["website_crawl", "notion_import"]);

export async function settingsPage(main, datasetId) {
  const current = await api("GET", dataset(datasetId));
  const [panel, models] = await Promise.all([
    retrievalPanel(datasetId, current.retrieval_model_dict || {}, { economy: current.indexing_technique === "economy" }),
    api("GET", "/v1/workspaces/current/models/model-types/text-embedding").catch(() => ({ data: [] })),
  ]);
  const name = h("input", { id: "settings-name", value: current.name, maxlength: 40, required: true });
  const description = h("textarea", { id: "settings-description", rows: 2, value: current.description || "" });
  const technique = select([["high_quality", "High quality"], ["economy", "Economy"]], current.indexing_technique || "high_quality", { id: "settings-technique" });
  const choices = modelChoices(models.data);
  const embedding = select(choices, `${current.embedding_model_provider}\u0000${current.embedding_model}`, { id: "settings-embedding" });

  async function save(event) {
    event.preventDefault();
    const [provider, model] = embedding.value.split("\u0000");
    const changes = { name: name.value, description: description.value, indexing_technique: technique.value, retrieval_model: panel.read() };
    if (technique.value === "high_quality" && model) Object.assign(changes, { embedding_model: model, embedding_model_provider: provider });
    try {
      await api("PATCH", dataset(datasetId), changes);
      toast("Settings saved.");
    } catch (error) {
      showError(error);
    }
  }

  const metadataBox = h("section", { class: "card", id: "metadata-fields" });
  const syncBox = h("section", { class: "card", id: "sync-schedule" });
  replace(main, datasetHeader(current, "settings"),
    h("form", { class: "card", onsubmit: save }, h("h2", {}, "General"),
      h("div", { class: "grid" }, field("Name", name), field("Index", technique),
        h("div", { class: "wide" }, field("Embedding model", embedding, "changing it re-embeds every document in the background"))),
      field("Description", description),
      h("p", { class: "muted small", id: "access-note" }, "Who can use it: every API key of this workspace, except keys limited to other datasets (",
        h("a", { href: "/ui/keys", "data-link": true }, "API keys"), ")."),
      panel.element,
      h("button", { type: "submit", class: "primary", id: "save-settings" }, "Save")),
    metadataBox, ONLINE_SOURCES.has(current.data_source_type) ? syncBox : null);
  await metadataSection(datasetId, metadataBox);
  if (ONLINE_SOURCES.has(current.data_source_type)) await syncSection(datasetId, syncBox);
}

async function metadataSection(datasetId, box) {
  const base = `${dataset(datasetId)}/metadata`;
  const listed = await api("GET", base);
  const reload = () => metadataSection(datasetId, box).catch(showError);
  const act = (run) => async () => { try { await run(); await reload(); } catch (error) { showError(error); } };
  const newName = h("input", { id: "new-field-name", placeholder: "lower_case_name", pattern: "[a-z0-9_]+" });
  const newType = select([["string", "Text"], ["number", "Number"], ["time", "Time"]], "string", { id: "new-field-type" });
  const builtIn = h("input", { type: "checkbox", id: "built-in-fields", checked: listed.built_in_field_enabled,
    onchange: act(() => api("POST", `${base}/built-in/${builtIn.checked ? "enable" : "disable"}`)) });
  replace(box, h("h2", {}, "Metadata fields"),
    listed.doc_metadata.length ? h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Name", "Type", "Documents", ""].map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, listed.doc_metadata.map((item) => h("tr", {},
        h("td", {}, item.name), h("td", { "data-label": "Type" }, item.type), h("td", { "data-label": "Documents" }, String(item.count)),
        h("td", { class: "actions" },
          h("button", { type: "button", onclick: act(async () => {
            const renamed = window.prompt(`New name of “${item.name}”`, item.name);
            if (renamed && renamed !== item.name) await api("PATCH", `${base}/${item.id}`, { name: renamed });
          }) }, "Rename"),
          h("button", { type: "button", class: "danger", onclick: act(async () => {
            if (confirmAction(`Delete the field “${item.name}” from every document?`)) await api("DELETE", `${base}/${item.id}`);
          }) }, "Delete"))))))
      : h("p", { class: "muted" }, "No fields yet."),
    h("form", { class: "inline", onsubmit: (event) => { event.preventDefault(); act(() => api("POST", base, { type: newType.value, name: newName.value }))(); } },
      field("New field", newName), field("Type", newType), h("button", { type: "submit" }, "Add field")),
    h("label", {}, builtIn, " Built-in fields (document name, uploader, upload date, last update, source)"));
}

async function syncSection(datasetId, box) {
  const schedule = await api("GET", `${dataset(datasetId)}/sync-schedule`);
  const minutes = h("input", { type: "number", id: "sync-minutes", min: 5, max: 10080, value: schedule.interval_minutes ?? "" });
  replace(box, h("h2", {}, "Sync schedule"),
    h("p", { class: "muted" }, schedule.last_synced_at ? `Last synced ${new Date(schedule.last_synced_at * 1000).toLocaleString()}.` : "Not synced yet."),
    h("form", { class: "inline", onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api("PUT", `${dataset(datasetId)}/sync-schedule`, { interval_minutes: minutes.value ? Number(minutes.value) : null });
        toast("Sync schedule saved.");
      } catch (error) { showError(error); }
    } }, field("Every (minutes, empty for never)", minutes), h("button", { type: "submit" }, "Save schedule")));
}
