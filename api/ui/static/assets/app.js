// The one-page admin app: a path router over the page modules, and the signed-in shell.
import { api, ApiError, setCsrfToken } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { datasetsPage } from "./datasets.js";
import { documentsPage } from "./documents.js";
import { documentPage } from "./document.js";
import { apiAccessPage } from "./api_access.js";
import { segmentsPage } from "./segments.js";
import { hitTestingPage } from "./hit_testing.js";
import { settingsPage } from "./settings.js";
import { keysPage } from "./keys.js";

const ROUTES = [
  [/^\/ui\/?$/, () => datasetsPage],
  [/^\/ui\/keys$/, () => keysPage],
  [/^\/ui\/datasets\/([\w-]+)(?:\/documents)?$/, () => documentsPage],
  [/^\/ui\/datasets\/([\w-]+)\/documents\/([\w-]+)$/, () => documentPage],
  [/^\/ui\/datasets\/([\w-]+)\/documents\/([\w-]+)\/segments$/, () => segmentsPage],
  [/^\/ui\/datasets\/([\w-]+)\/hit-testing$/, () => hitTestingPage],
  [/^\/ui\/datasets\/([\w-]+)\/settings$/, () => settingsPage],
  [/^\/ui\/datasets\/([\w-]+)\/access$/, () => apiAccessPage],
];

const main = document.getElementById("main");
let session = null;

export function navigate(path) {
  history.pushState({}, "", path);
  render();
}

function notFound(message = "This page does not exist.") {
  replace(main, h("section", { class: "empty" }, h("h1", {}, "404 · Not found"), h("p", {}, message),
    h("a", { href: "/ui/", "data-link": true }, "Back to datasets")));
}

// An event handler whose failure becomes a message instead of an unhandled rejection.
export function guarded(action) {
  return async (...args) => { try { await action(...args); } catch (error) { showError(error); } };
}

export function showError(error) {
  if (error instanceof ApiError && error.status === 404) return notFound(error.message);
  if (error instanceof ApiError && error.status === 401) return;  // the sign-in page takes over
  toast(error.message || String(error), "error");
}

async function render() {
  const path = location.pathname;
  if (!session) return signInPage();
  for (const [pattern, page] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      replace(main, h("p", { class: "muted" }, "Loading…"));
      try {
        await page()(main, ...match.slice(1).map(decodeURIComponent), new URLSearchParams(location.search));
      } catch (error) {
        showError(error);
      }
      main.focus({ preventScroll: true });
      return;
    }
  }
  notFound();
}

function signInPage() {
  document.getElementById("nav").hidden = true;
  const key = h("input", { type: "password", id: "api-key", autocomplete: "off", required: true, placeholder: "ds-…" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      startSession(await api("POST", "/ui/api/session", { api_key: key.value }));
      render();
    } catch (failure) {
      error.textContent = failure.message;
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "Use an API key of your workspace (kb keys create prints one). The key stays on the server: this browser only keeps a session."),
  h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), key),
  error,
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  replace(main, form);
  key.focus();
}

function startSession(current) {
  session = current;
  setCsrfToken(current.csrf_token);
  document.getElementById("nav").hidden = false;
  document.getElementById("workspace").textContent = `Workspace: ${current.workspace.name}`;
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", render);
window.addEventListener("kb:signed-out", () => {
  if (!session) return;
  session = null;
  toast("Your session has ended. Please sign in again.", "error");
  render();
});
document.getElementById("sign-out").addEventListener("click", async () => {
  try { await api("DELETE", "/ui/api/session"); } catch { /* already ended */ }
  session = null;
  setCsrfToken(null);
  render();
});

(async () => {
  try {
    startSession(await api("GET", "/ui/api/session"));
  } catch {
    session = null;
  }
  render();
})();
