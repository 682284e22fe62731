// API keys of the signed-in workspace: list (masked, last use), create (shown once), revoke.
import { api } from "./api.js";
import { badge, confirmAction, h, replace, toast, when } from "./dom.js";
import { showError } from "./app.js";

export async function keysPage(main) {
  const created = h("div", { id: "new-key", "aria-live": "polite" });
  const list = h("div", {});
  const datasets = (await api("GET", "/v1/datasets?limit=100")).data;
  const names = new Map(datasets.map((item) => [item.id, item.name]));
  const scope = h("fieldset", { class: "inline", id: "key-scope" }, h("legend", {}, "Limit the new key to these datasets (none ticked: every dataset)"),
    datasets.map((item) => h("label", {}, h("input", { type: "checkbox", value: item.id }), ` ${item.name}`)));

  async function load() {
    const keys = (await api("GET", "/ui/api/keys")).data;
    replace(list, h("table", { class: "table", id: "keys" },
      h("thead", {}, h("tr", {}, ["Key", "Datasets", "Created", "Last used", "State", ""].map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, keys.map((key) => h("tr", {},
        h("td", {}, h("code", {}, key.token), key.current ? [" ", badge("this session", "info")] : null),
        h("td", { "data-label": "Datasets" }, key.dataset_ids ? key.dataset_ids.map((id) => names.get(id) || id).join(", ") : "all"),
        h("td", { "data-label": "Created" }, when(key.created_at)),
        h("td", { "data-label": "Last used" }, when(key.last_used_at)),
        h("td", { "data-label": "State" }, key.revoked_at ? badge("revoked", "error") : badge("active", "available")),
        h("td", { class: "actions" }, key.revoked_at ? null : h("button", { type: "button", class: "danger", onclick: async () => {
          const warning = key.current ? " This session signed in with it and will end." : "";
          if (!confirmAction(`Revoke ${key.token}? Programs using it stop working.${warning}`)) return;
          try { await api("DELETE", `/ui/api/keys/${key.id}`); toast("Key revoked."); await load(); } catch (error) { showError(error); }
        } }, "Revoke")))))));
  }

  async function create() {
    try {
      const chosen = [...scope.querySelectorAll("input:checked")].map((box) => box.value);
      const { token } = await api("POST", "/ui/api/keys", chosen.length ? { dataset_ids: chosen } : {});
      replace(created, h("div", { class: "card notice" }, h("p", {}, "Copy the new key now: it is shown only once."),
        h("input", { readonly: true, value: token, id: "created-key", "aria-label": "New API key", onfocus: (event) => event.target.select() })));
      await load();
    } catch (error) {
      showError(error);
    }
  }

  replace(main, h("h1", {}, "API keys"),
    h("p", { class: "muted" }, "Keys act as this workspace on the datasets API and the external /retrieval endpoint."),
    h("div", { class: "card", id: "api-access" },
      h("p", {}, "Datasets API: ", h("code", {}, `${location.origin}/v1`)),
      h("p", {}, "MCP server for agents (streamable HTTP, the key as a Bearer token): ", h("code", {}, `${location.origin}/mcp`)),
      h("p", { class: "muted" }, "Clients that start a process use kb mcp with KB_API_KEY set (see the README).")),
    h("div", { class: "card" }, scope, h("button", { type: "button", class: "primary", id: "create-key", onclick: create }, "Create a key")),
    created, list);
  await load();
}
