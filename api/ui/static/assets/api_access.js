// How a program reaches this dataset: the endpoints with copy buttons, and a ready request that uses
// a key created here for this dataset only (or a placeholder until one is).
import { api, dataset } from "./api.js";
import { datasetHeader, h, replace, toast } from "./dom.js";
import { guarded } from "./app.js";

export async function apiAccessPage(main, datasetId) {
  const current = await api("GET", dataset(datasetId));
  const origin = location.origin;
  const example = h("pre", { class: "code", id: "example-request" }, exampleRequest(origin, datasetId, null));
  const keyBox = h("div", { id: "access-key", "aria-live": "polite" });

  async function createKey() {
    const { token } = await api("POST", "/ui/api/keys", { dataset_ids: [datasetId] });
    example.textContent = exampleRequest(origin, datasetId, token);
    replace(keyBox, h("div", { class: "notice" },
      h("p", {}, "A key that reaches this dataset only. Copy it now: it is shown only once (the example below uses it)."),
      copyable("New API key", token, "created-key")));
  }

  replace(main, datasetHeader(current, "access"),
    h("section", { class: "card", id: "endpoints" }, h("h2", {}, "Endpoints"),
      copyable("Datasets API base URL", `${origin}/v1`, "base-url"),
      copyable("This dataset's ID", datasetId, "dataset-id"),
      copyable("External knowledge API endpoint, for apps such as Dify", origin, "external-endpoint"),
      h("p", { class: "muted small" }, "Such an app sends POST ", h("code", {}, "/retrieval"),
        " to this endpoint with a key as its Bearer token; give it this dataset's ID as the knowledge ID."),
      copyable("MCP server for agents (streamable HTTP, a key as its Bearer token)", `${origin}/mcp`, "mcp-endpoint")),
    h("section", { class: "card", id: "example" }, h("h2", {}, "Example request"),
      h("p", { class: "muted small" }, "Searches this dataset with its default retrieval settings. Set KB_API_KEY to a key first, or create one for this dataset here."),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "create-access-key", onclick: guarded(createKey) }, "Create a key for this dataset"),
        copyButton("the example request", () => example.textContent)),
      keyBox, example));
}

function copyable(label, value, id) {
  const input = h("input", { readonly: true, value, id, onfocus: (event) => event.target.select() });
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("div", { class: "copyable" }, input, copyButton(label, () => value)));
}

function copyButton(label, text) {
  return h("button", { type: "button", "aria-label": `Copy ${label}`, onclick: guarded(async () => {
    await copyText(text());
    toast("Copied.");
  }) }, "Copy");
}

// The clipboard API needs a secure context (https or localhost); elsewhere a selected text area is copied.
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = h("textarea", { class: "offscreen", readonly: true }, text);
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("The browser refused to copy: select the text and copy it by hand.");
}

function exampleRequest(origin, datasetId, key) {
  return [
    `curl -X POST '${origin}/v1/datasets/${datasetId}/retrieve' \\`,
    `  -H "Authorization: Bearer ${key || "$KB_API_KEY"}" \\`,
    "  -H 'Content-Type: application/json' \\",
    `  -d '{"query": "What does this dataset say about pricing?"}'`,
  ].join("\n");
}
