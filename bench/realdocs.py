"""Real PDFs as people upload them (the `realdocs` evaluation set: clinical-trial protocols, one a scan, and
NTSB accident reports laid out as forms), through the API of two versions of the service side by side:
a baseline (a git revision, checked out in a temporary worktree and served from it) and this checkout.

Each version ingests the 40 files into a fresh data directory (automatic chunking, high quality), then
answers the questions of `bench/data/realdocs_questions.json` (written from the documents before the
pipeline under test was measured), each with the exact evidence text a correct record must contain:

- evidence recall@10: the share of a question's evidence texts found in its 10 records (case and
  spacing aside), averaged over questions, for semantic, full-text and hybrid search;
- source-document hit@10: the share of a question's documents among the records' documents;
- the share of files that load, and each failure's message;
- pages per second of the born-digital files' ingest (upload to searchable, the files with pages to
  OCR ingested after them) and extraction, and of OCR.

    python -m bench.realdocs [--baseline b0cc7d7]
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.corpus import RESULTS
from bench.service import ROOT, UNLIMITED, EmbeddedServer, checked_out

REALDOCS = ROOT.parent / "shared" / "data" / "realdocs"
QUESTIONS = Path(__file__).resolve().parent / "data" / "realdocs_questions.json"
DEFAULT_BASELINE = "b0cc7d7"  # main before the real-documents work
METHODS = {
    "semantic": {"search_method": "semantic_search"},
    "full-text": {"search_method": "full_text_search"},
    "hybrid": {"search_method": "hybrid_search"},
}
OPTIONS = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
# Timing the extraction in the served code's own process: pages and seconds of every file it reads.
EXTRACTION_TIMER = """
import json, sys, time
from pathlib import Path
from etl.extractors import extract_file
kwargs = {}
try:
    from core.settings import Settings
    recognizer = Settings().text_recognizer if hasattr(Settings, "text_recognizer") else None
    if recognizer is not None:
        kwargs["recognizer"] = recognizer
except Exception:
    pass
report = {}
for path in sorted(Path(sys.argv[1]).glob("*/*.pdf")):
    started = time.perf_counter()
    try:
        parts = extract_file(path, "pdf", **kwargs)
        pages, ocr = len(parts), sum(1 for part in parts if part.metadata.get("ocr"))
    except Exception as error:
        pages, ocr = 0, 0
    report[path.name] = {"seconds": time.perf_counter() - started, "pages": pages, "ocr_pages": ocr}
print(json.dumps(report))
"""


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\ufffe", "")).strip().lower()


def run_version(name: str, code_dir: Path, work: Path, questions: list[dict]) -> dict:
    """Serves the code in `code_dir`, ingests every file, asks every question: the version's figures."""
    data_dir = work / name
    data_dir.mkdir(parents=True)
    # `python -m kb` imports from its working directory first: the baseline's worktree serves its code.
    cwd = code_dir if code_dir != ROOT else data_dir
    server = EmbeddedServer(cwd, KB_DATA_DIR=str(data_dir / "data"), TOP_K_MAX_VALUE="10", **UNLIMITED)
    try:
        headers = {"Authorization": f"Bearer {server.first_key()}"}
        api = httpx.Client(base_url=f"{server.url}/v1", headers=headers, timeout=600)
        dataset = api.post("/datasets", json={"name": "realdocs"}).json()
        loads, ingest_seconds = ingest(api, dataset["id"])
        answers = {
            method: [ask(api, dataset["id"], q, settings) for q in questions]
            for method, settings in METHODS.items()
        }
    finally:
        server.stop()
    extraction = json.loads(
        subprocess.run(
            [sys.executable, "-c", EXTRACTION_TIMER, str(REALDOCS)],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]
    )
    return summarise(loads, ingest_seconds, answers, questions, extraction)


def page_count(path_or_name: Path) -> int:
    """Pages of a file, counted the same way for both versions (whatever each extracts)."""
    import pypdfium2 as pdfium

    path = next(REALDOCS.glob(f"*/{path_or_name.name}"))
    document = pdfium.PdfDocument(str(path))
    try:
        return len(document)
    finally:
        document.close()


def needs_ocr(path: Path) -> bool:
    """Whether a file has a page without a text layer (a scan, an image-only page)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        return any(
            len(document[i].get_textpage().get_text_range().strip()) < 20 for i in range(len(document))
        )
    finally:
        document.close()


def ingest(api: httpx.Client, dataset_id: str) -> tuple[dict, dict]:
    """Uploads the born-digital files, waits until each is indexed or failed, then the same for the
    files with pages to OCR: {file: error or None}, and the seconds of each group."""
    files = sorted(REALDOCS.glob("*/*.pdf"))
    scanned = [path for path in files if needs_ocr(path)]
    loads, seconds = {}, {}
    for group, paths in (("born_digital", [p for p in files if p not in scanned]), ("with_ocr", scanned)):
        started = time.perf_counter()
        loads |= ingest_files(api, dataset_id, paths)
        seconds[group] = time.perf_counter() - started
    return loads, seconds


def ingest_files(api: httpx.Client, dataset_id: str, paths: list[Path]) -> dict:
    batches = {}
    for path in paths:
        response = api.post(
            f"/datasets/{dataset_id}/document/create-by-file",
            files={"file": (path.name, path.read_bytes(), "application/pdf")},
            data={"data": json.dumps(OPTIONS)},
        )
        response.raise_for_status()
        batches[path.name] = response.json()["batch"]
    loads = {}
    for name, batch in batches.items():
        while True:
            status = api.get(f"/datasets/{dataset_id}/documents/{batch}/indexing-status").json()["data"][0]
            if status["indexing_status"] in ("completed", "error"):
                loads[name] = status["error"] if status["indexing_status"] == "error" else None
                break
            time.sleep(0.5)
    return loads


def ask(api: httpx.Client, dataset_id: str, question: dict, settings: dict) -> list[dict]:
    model = {**settings, "top_k": 10, "reranking_enable": False, "score_threshold_enabled": False}
    body = {"query": question["q"][:250], "retrieval_model": model}
    response = api.post(f"/datasets/{dataset_id}/hit-testing", json=body)
    if response.status_code != 200:
        return []
    return [
        {"document": record["segment"]["document"]["name"], "content": record["segment"]["content"]}
        for record in response.json()["records"]
    ]


def summarise(
    loads: dict, ingest_seconds: float, answers: dict, questions: list[dict], extraction: dict
) -> dict:
    methods = {}
    for method, per_question in answers.items():
        recall, hits, diversity, by_kind = [], [], [], {}
        for question, records in zip(questions, per_question, strict=True):
            found = normalised(" ".join(record["content"] for record in records))
            share = sum(normalised(e) in found for e in question["evidence"]) / len(question["evidence"])
            recall.append(share)
            by_kind.setdefault(question["kind"], []).append(share)
            documents = {record["document"] for record in records}
            hits.append(sum(d in documents for d in question["documents"]) / len(question["documents"]))
            diversity.append(len(documents))
        methods[method] = {
            "evidence_recall@10": round(statistics.mean(recall), 3),
            "by_kind": {kind: round(statistics.mean(values), 3) for kind, values in sorted(by_kind.items())},
            "document_hit@10": round(statistics.mean(hits), 3),
            "documents_per_top10": round(statistics.mean(diversity), 2),
        }
    scanned = {path.name for path in REALDOCS.glob("*/*.pdf") if needs_ocr(path)}
    born_digital = {name: figures for name, figures in extraction.items() if name not in scanned}
    ocr_seconds = sum(f["seconds"] for f in extraction.values() if f["ocr_pages"])
    ocr_pages = sum(f["ocr_pages"] for f in extraction.values())
    digital_pages = sum(page_count(REALDOCS / name) for name in born_digital)
    return {
        "files": len(loads),
        "files_loaded": sum(error is None for error in loads.values()),
        "failures": {name: error for name, error in loads.items() if error},
        "ingest_seconds": {group: round(value, 1) for group, value in ingest_seconds.items()},
        "born_digital_ingest_pages_per_second": round(digital_pages / ingest_seconds["born_digital"], 2),
        "extraction_pages_per_second": round(
            digital_pages / sum(f["seconds"] for f in born_digital.values()), 1
        ),
        "ocr_pages": ocr_pages,
        "ocr_pages_per_second": round(ocr_pages / ocr_seconds, 3) if ocr_pages else None,
        "methods": methods,
    }


def write_results(baseline: str, results: dict, questions: list[dict]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "realdocs.json").write_text(json.dumps({"baseline": baseline, **results}, indent=2) + "\n")
    before, after = results["before"], results["after"]

    def row(label: str, pick) -> str:
        return f"| {label} | {pick(before)} | {pick(after)} |"

    lines = [
        f"# Real documents: {len(questions)} questions over {after['files']} PDFs",
        "",
        f"Before: revision {baseline}; after: this checkout. Same files, questions and machine, one run.",
        "",
        "| | before | after |",
        "|---|---|---|",
        row("files that load", lambda v: f"{v['files_loaded']}/{v['files']}"),
        row(
            "born-digital ingest pages/s (upload to searchable)",
            lambda v: v["born_digital_ingest_pages_per_second"],
        ),
        row("extraction pages/s (born-digital)", lambda v: v["extraction_pages_per_second"]),
        row("OCR pages/s", lambda v: v["ocr_pages_per_second"] or "-"),
    ]
    for method in METHODS:
        for figure in ("evidence_recall@10", "document_hit@10", "documents_per_top10"):
            lines.append(row(f"{method}: {figure}", lambda v, m=method, f=figure: v["methods"][m][f]))
    lines += ["", "Evidence recall@10 by kind of question (after):", ""]
    for method in METHODS:
        lines.append(
            f"- {method}: " + ", ".join(f"{k} {v}" for k, v in after["methods"][method]["by_kind"].items())
        )
    for label, version in (("before", before), ("after", after)):
        for name, error in version["failures"].items():
            lines.append(f"- {label}, {name} failed: {error}")
    (RESULTS / "realdocs.md").write_text("\n".join(lines) + "\n")
    plot(results)


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.5))
    width = 0.38
    for offset, label in ((-width / 2, "before"), (width / 2, "after")):
        values = [results[label]["methods"][m]["evidence_recall@10"] for m in METHODS]
        bars = axis.bar([i + offset for i in range(len(METHODS))], values, width, label=label)
        axis.bar_label(bars, fmt="%.3f", fontsize=8)
    axis.set_xticks(range(len(METHODS)), list(METHODS))
    axis.set_ylabel("evidence recall@10")
    axis.set_ylim(0, 1)
    axis.set_title("Real PDFs: evidence in the top 10 records")
    axis.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "realdocs.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision measured as 'before'")
    args = parser.parse_args()
    questions = json.loads(QUESTIONS.read_text())
    with tempfile.TemporaryDirectory(prefix="kb-realdocs-") as temporary:
        work = Path(temporary)
        with checked_out(args.baseline, work / "baseline-code") as baseline_code:
            results = {"before": run_version("before", baseline_code, work, questions)}
            print("before", json.dumps(results["before"], indent=1), flush=True)
            results["after"] = run_version("after", ROOT, work, questions)
            print("after", json.dumps(results["after"], indent=1), flush=True)
    write_results(args.baseline, results, questions)


if __name__ == "__main__":
    main()
