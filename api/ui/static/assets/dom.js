// Building the page from data without ever parsing it as HTML: every string becomes a text node,
// event handlers are functions, and links may only point inside this site.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "href") {
      element.setAttribute("href", safeHref(value));
    } else if (name === "value" || name === "checked" || name === "disabled" || name === "selected") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function safeHref(value) {
  const text = String(value);
  return text.startsWith("/") && !text.startsWith("//") ? text : "#";
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function field(label, control, hint) {
  const id = control.id || `field-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

// A labelled search box that calls onSearch(text) once typing pauses.
export function searchField(id, placeholder, onSearch) {
  const input = h("input", { type: "search", id, placeholder });
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => onSearch(input.value.trim()), 250);
  });
  return h("div", { class: "toolbar" }, field("Search", input));
}

export function select(options, value, attributes = {}) {
  return h("select", attributes, options.map(([optionValue, label]) =>
    h("option", { value: optionValue, selected: optionValue === value }, label)));
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "—";
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

// A list page's "previous / next" with the position in the whole list; nothing when it all fits one page.
export function pager(page, limit, total, onPage) {
  const pages = Math.max(1, Math.ceil(total / limit));
  if (pages === 1 && page === 1) return null;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: page <= 1, onclick: () => onPage(page - 1) }, "‹ Previous"),
    h("span", {}, `Page ${page} of ${pages} · ${total} in all`),
    h("button", { type: "button", disabled: page >= pages, onclick: () => onPage(page + 1) }, "Next ›"));
}

// Text with the given [start, end) code-point ranges wrapped in <mark>.
export function highlighted(text, spans = []) {
  const points = Array.from(text || "");
  const parts = [];
  let position = 0;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (start < position) continue;
    parts.push(points.slice(position, start).join(""), h("mark", {}, points.slice(start, end).join("")));
    position = end;
  }
  parts.push(points.slice(position).join(""));
  return parts;
}

export function confirmAction(question) {
  return window.confirm(question);
}

// The tabs on top of every page of one dataset.
export function datasetHeader(dataset, active) {
  const tabs = [["documents", "Documents", ""], ["hit-testing", "Hit-testing", "/hit-testing"], ["settings", "Settings", "/settings"],
    ["access", "API access", "/access"]];
  return h("div", { class: "dataset-header" },
    h("p", { class: "crumbs" }, h("a", { href: "/ui/", "data-link": true }, "Datasets"), " / "),
    h("h1", {}, dataset.name),
    h("nav", { class: "tabs", "aria-label": "Dataset" }, tabs.map(([key, label, suffix]) =>
      h("a", { href: `/ui/datasets/${dataset.id}${suffix}`, "data-link": true, "aria-current": key === active ? "page" : null }, label))));
}

// Where a chunk is in its document: "page 3–4 · 2 Methods › 2.1 Design" (null when unknown).
export function placeText(item) {
  const parts = [];
  if (item.page) parts.push(item.page_end && item.page_end !== item.page ? `page ${item.page}–${item.page_end}` : `page ${item.page}`);
  if (item.heading_path?.length) parts.push(item.heading_path.join(" › "));
  return parts.length ? parts.join(" · ") : null;
}
