// Datasets: the workspace's list with search by name, create, delete.
import { api, dataset } from "./api.js";
import { field, h, pager, replace, searchField, select, toast, confirmAction } from "./dom.js";
import { guarded, navigate, showError } from "./app.js";
import { METHOD_NAMES } from "./labels.js";

const PAGE_SIZE = 20;

export async function datasetsPage(main) {
  let page = 1;
  let keyword = "";
  const list = h("div", { class: "list" });
  const search = searchField("dataset-search", "Search by name", guarded((text) => { keyword = text; page = 1; return load(); }));

  async function load() {
    const params = new URLSearchParams({ page, limit: PAGE_SIZE });
    if (keyword) params.set("keyword", keyword);
    const result = await api("GET", `/v1/datasets?${params}`);
    replace(list, result.data.length ? table(result.data, load) : h("p", { class: "empty" }, keyword
      ? "No dataset has that name." : "No dataset yet: create the first one above."),
    pager(page, PAGE_SIZE, result.total, (next) => { page = next; load().catch(showError); }));
  }

  replace(main, h("h1", {}, "Datasets"), createForm(), search, list);
  await load();
}

function table(datasets, reload) {
  return h("table", { class: "table" },
    h("thead", {}, h("tr", {}, ["Name", "Documents", "Characters", "Index", "Retrieval", ""].map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, datasets.map((item) => h("tr", {},
      h("td", {}, h("a", { href: `/ui/datasets/${item.id}`, "data-link": true }, item.name),
        item.description ? h("div", { class: "muted small" }, item.description) : null),
      h("td", { "data-label": "Documents" }, String(item.document_count)),
      h("td", { "data-label": "Characters" }, item.word_count.toLocaleString()),
      h("td", { "data-label": "Index" }, item.indexing_technique === "economy" ? "Economy" : "High quality"),
      h("td", { "data-label": "Retrieval" }, METHOD_NAMES[item.retrieval_model_dict?.search_method] || "Vector"),
      h("td", { class: "actions" },
        h("a", { href: `/ui/datasets/${item.id}/hit-testing`, "data-link": true }, "Hit-testing"),
        h("button", { type: "button", class: "danger", onclick: () => remove(item, reload) }, "Delete"))))));
}

async function remove(item, reload) {
  if (!confirmAction(`Delete the dataset “${item.name}” with all its documents?`)) return;
  try {
    await api("DELETE", dataset(item.id));
    toast(`Deleted “${item.name}”.`);
    await reload();
  } catch (error) {
    showError(error);
  }
}

function createForm() {
  const name = h("input", { id: "new-dataset-name", required: true, maxlength: 40 });
  const description = h("input", { id: "new-dataset-description", maxlength: 400 });
  const technique = select([["high_quality", "High quality (vectors and full-text)"], ["economy", "Economy (keywords only)"]], "high_quality", { id: "new-dataset-technique" });
  return h("details", { class: "card" }, h("summary", {}, "Create a dataset"),
    h("form", { class: "grid", onsubmit: async (event) => {
      event.preventDefault();
      try {
        const created = await api("POST", "/v1/datasets", {
          name: name.value, description: description.value, indexing_technique: technique.value,
        });
        toast(`Created “${created.name}”.`);
        navigate(`/ui/datasets/${created.id}`);
      } catch (error) {
        showError(error);
      }
    } },
    field("Name", name), field("Description", description), field("Indexing", technique),
    h("button", { type: "submit", class: "primary" }, "Create")));
}
