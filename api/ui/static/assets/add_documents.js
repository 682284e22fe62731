// Adding documents: files (picked or dropped, uploaded two at a time with their progress) or pasted
// text, under the chunking chosen here, which can be previewed on any one of them first.
import { api, dataset, upload } from "./api.js";
import { field, h, replace, toast } from "./dom.js";
import { guarded } from "./app.js";
import { chunkingPanel, previewChunks } from "./chunking.js";

const PARALLEL_UPLOADS = 2;

export function addDocuments(current, reload) {
  const chunking = chunkingPanel();
  const previewBox = h("div", { class: "preview-box", id: "chunk-preview" });
  let files = [];  // { file, bar, state, row } not yet uploaded (or failed)
  const fileList = h("ul", { class: "uploads", id: "upload-list" });
  const previewSource = h("select", { id: "preview-source" });
  const previewChoice = field("Preview", previewSource);
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
      const entry = { file, bar, state };
      entry.row = h("li", {}, h("span", {}, file.name), bar, state,
        h("button", { type: "button", class: "link", "aria-label": `Remove ${file.name}`, onclick: () => forget(entry) }, "Remove"));
      files.push(entry);
      fileList.append(entry.row);
    }
    syncPreviewChoice();
  }

  function forget(entry) {
    files = files.filter((other) => other !== entry);
    entry.row.remove();
    syncPreviewChoice();
  }

  // With more than one source the person picks the one to preview; the preview names it.
  function syncPreviewChoice() {
    const sources = [...files.map((entry, index) => [String(index), entry.file.name]), ...(text.value.trim() ? [["text", "The pasted text"]] : [])];
    const kept = previewSource.value;
    replace(previewSource, sources.map(([value, label]) => h("option", { value, selected: value === kept }, label)));
    previewChoice.hidden = sources.length < 2;
  }

  function options() {
    return { indexing_technique: current.indexing_technique || "high_quality", ...chunking.options() };
  }

  async function uploadAll() {
    if (!files.length) return toast("Choose files first.", "error");
    const queue = [...files];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        const form = new FormData();
        form.append("file", entry.file);
        form.append("data", JSON.stringify(options()));
        entry.state.textContent = "uploading";
        entry.state.className = "small muted";
        try {
          await upload(`${dataset(current.id)}/document/create-by-file`, form, (fraction) => { entry.bar.value = fraction; });
          entry.bar.value = 1;
          entry.state.textContent = "uploaded";
          entry.uploaded = true;
        } catch (error) {
          entry.state.textContent = error.message;
          entry.state.className = "small error";
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
    // Uploaded files leave the form (the list below shows them now); a failed one stays to retry.
    const uploaded = files.filter((entry) => entry.uploaded);
    uploaded.forEach(forget);
    if (uploaded.length) toast(`${uploaded.length === 1 ? "1 file" : `${uploaded.length} files`} uploaded: indexing has started.`);
    if (!files.length) card.open = false;  // all went in: the list below is what matters now
    replace(previewBox);
    await reload();
  }

  const name = h("input", { id: "text-name", maxlength: 255 });
  const text = h("textarea", { id: "text-content", rows: 6 });
  text.addEventListener("input", syncPreviewChoice);
  async function createFromText() {
    if (!name.value.trim() || !text.value.trim()) return toast("A name and some text are needed.", "error");
    await api("POST", `${dataset(current.id)}/document/create-by-text`, { name: name.value.trim(), text: text.value, ...options() });
    toast(`Added “${name.value.trim()}”.`);
    name.value = "";
    text.value = "";
    syncPreviewChoice();
    replace(previewBox);
    await reload();
  }

  async function preview() {
    const choice = previewSource.value;
    const source = choice === "text" ? text.value : files[Number(choice)]?.file;
    if (!source) return toast("Paste text or choose a file to preview its chunks.", "error");
    await previewChunks(current.id, chunking.options(), source, previewBox);
  }

  syncPreviewChoice();
  const card = h("details", { class: "card", open: current.document_count === 0 }, h("summary", {}, "Add documents"),
    h("div", { class: "columns" },
      h("section", {}, h("h2", {}, "Files"), drop, fileList,
        h("button", { type: "button", class: "primary", id: "upload-files", onclick: guarded(uploadAll) }, "Upload and index")),
      h("section", {}, h("h2", {}, "Text"), field("Name", name), field("Text", text),
        h("button", { type: "button", class: "primary", id: "create-text", onclick: guarded(createFromText) }, "Add text"))),
    chunking.element,
    h("div", { class: "inline" }, previewChoice,
      h("button", { type: "button", id: "preview-chunks", onclick: guarded(preview) }, "Preview chunks")), previewBox);
  return card;
}
