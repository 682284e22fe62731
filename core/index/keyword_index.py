"""The full-text index, inside the search engine: two term collections per dataset (and a third that
records their statistics).

- texts: one point per indexed text (a chunk, a child chunk or a Q&A question) with its BM25 sparse
  vector (`retrieval.bm25`), its terms and their counts, its length, and whether it stands alone
  (Q&A pairs are never blended with their document);
- documents: one point per document, all its texts taken as one (counts and lengths summed), for the
  document-level evidence that `FULL_TEXT_DOCUMENT_WEIGHT` blends into each chunk's score.

BM25's average length is part of the weights, so it is fixed when they are written: a third
collection records each one's average and point count, and once a collection has doubled or halved
since, the average is taken again and every weight of that collection rewritten from the counts in the
payload (no text is read again). Writers check the average after writing, so none leaves weights of an
old one behind (`_write`). The end of an indexing burst, `kb reindex` and every start take the average
again once the collection has moved by `SETTLE_SHARE` since and the true one differs (`settle_averages`):
the weights then use the collection's true average, not the one of its last doubling (0.3 % off
after a SciFact ingest, which cost full-text search 0.0009 of nDCG@10).
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.datasets.models import DocForm
from core.documents.models import Document
from core.index import point_metadata
from core.index.engines import DOCUMENTS, STATISTICS, TEXTS, get_vector_store, term_collections
from retrieval.bm25 import saturated_weights
from retrieval.conditions import META, META_NUMBER, META_REVISION
from retrieval.tokenizer import tokenize
from retrieval.vector_store import TERMS, TermPoint

MAX_TERM_LENGTH = 128
# The end of an indexing burst rewrites a collection's weights with its true average once it holds
# this share more or fewer points than the recorded average was taken over, and that average is off
# the true one by more than AVERAGE_TOLERANCE (relative).
SETTLE_SHARE = 0.05
AVERAGE_TOLERANCE = 0.001
REWRITING = "rewriting"  # on a statistics record while the weights are rewritten to its average
STORED_FIELDS = [
    "key",
    "document_id",
    "segment_id",
    TERMS,
    "counts",
    "length",
    "standalone",
    META,
    META_NUMBER,
    META_REVISION,
]


@dataclass(frozen=True)
class IndexedText:
    """A text as the indexes hold it (a chunk, a child chunk or a question) and where it belongs."""

    node_id: str
    segment_id: str
    document_id: str
    workspace_id: str
    dataset_id: str
    text: str
    keywords: tuple[str, ...] = ()  # given by a user for the chunk; searched as if part of the text
    metadata: dict = field(default_factory=dict, compare=False)  # its document's, as points carry it
    metadata_revision: int = 0  # the revision of the document's metadata that `metadata` is


def written_revisions(texts: list[IndexedText]) -> dict[str, int]:
    return {text.document_id: text.metadata_revision for text in texts}


def write_texts(
    session: Session, dataset_id: str, texts: list[IndexedText], *, refresh_documents: bool = True
) -> None:
    """Replaces these texts in the index (writing twice leaves one copy), then their documents."""
    if not texts:
        return
    standalone = set(
        session.scalars(
            select(Document.id).where(
                Document.id.in_({t.document_id for t in texts}), Document.doc_form == DocForm.QA
            )
        )
    )
    payloads = [_text_payload(item, item.document_id in standalone) for item in texts]
    # A text without terms can match nothing, and the engine's idf does not count it: it is left out,
    # so that the collection's point count is the N of that idf.
    store = get_vector_store()
    store.delete_terms(term_collections(dataset_id)[TEXTS], [p["key"] for p in payloads if not p["length"]])
    _write(session, dataset_id, TEXTS, [payload for payload in payloads if payload["length"]])
    point_metadata.record_written(session, written_revisions(texts))
    if refresh_documents:
        refresh_document_terms(session, dataset_id, {item.document_id for item in texts})


def _text_payload(item: IndexedText, standalone: bool) -> dict:
    counts = Counter(term[:MAX_TERM_LENGTH] for term in tokenize(" ".join((item.text, *item.keywords))))
    return {
        "key": item.node_id,
        "document_id": item.document_id,
        "segment_id": item.segment_id,
        **_term_fields(counts),
        "standalone": standalone,
        **item.metadata,
    }


def delete_texts(session: Session, dataset_id: str, node_ids: list[str], document_ids: Iterable[str]) -> None:
    """Takes texts out of the index; `document_ids` are the documents they belonged to."""
    if node_ids:
        get_vector_store().delete_terms(term_collections(dataset_id)[TEXTS], node_ids)
    refresh_document_terms(session, dataset_id, set(document_ids))


def refresh_document_terms(session: Session, dataset_id: str, document_ids: set[str]) -> None:
    """Rebuilds the document points from the text points now in the index (Q&A texts excluded)."""
    store, names = get_vector_store(), term_collections(dataset_id)
    metadata = point_metadata.snapshot(session, document_ids)
    payloads, empty = [], []
    for document_id in sorted(document_ids):
        counts: Counter[str] = Counter()
        for text in store.payloads(names[TEXTS], [TERMS, "counts", "standalone"], document_id=document_id):
            if not text.get("standalone"):
                counts.update(_counts(text))
        if counts:
            fields = {"key": document_id, "document_id": document_id, **_term_fields(counts)}
            payloads.append(fields | (metadata[document_id].payload if document_id in metadata else {}))
        else:
            empty.append(document_id)
    store.delete_terms(names[DOCUMENTS], empty)
    _write(session, dataset_id, DOCUMENTS, payloads)
    point_metadata.record_written(session, {id_: found.revision for id_, found in metadata.items()})


def settle_averages(session: Session, dataset_id: str) -> None:
    """At the end of an indexing burst (the writes during it used the average of the collection's
    last doubling) and at a start (a stop may have cut the burst's end short): each term collection
    that has moved since its average was taken, and whose true average is now another, gets it, and
    its weights are rewritten; so does one whose rewrite a stop or a crash cut short."""
    for kind, record in _weighted_kinds(dataset_id):
        if record.get(REWRITING) or _average_has_moved(term_collections(dataset_id)[kind], record):
            _write(session, dataset_id, kind, [], new_average=True)


def _weighted_kinds(dataset_id: str) -> list[tuple[str, dict]]:
    return [(kind, record) for kind, record in statistics(dataset_id).items() if kind in (TEXTS, DOCUMENTS)]


def _average_has_moved(name: str, record: dict) -> bool:
    taken_over, points = record["points"], get_vector_store().count(name)
    if not points or abs(points - taken_over) <= SETTLE_SHARE * taken_over:
        return False
    true_average, _ = _average_length(name)
    return abs(true_average - record["average_length"]) > AVERAGE_TOLERANCE * record["average_length"]


def _write(
    session: Session, dataset_id: str, kind: str, payloads: list[dict], *, new_average: bool = False
) -> None:
    """Writes the points with the collection's current average (a `new_average` taken first), and
    writes them again (or, after taking a new average, the whole collection) until the average read
    after writing is the one used: a writer racing one that takes a new average never leaves weights
    of the old one behind. Points rewritten as they were read keep the metadata revision they carry,
    which the session checks once its transaction ends, as for the new ones."""
    if not payloads and not new_average:
        return
    names = term_collections(dataset_id)
    store = get_vector_store()
    for name in (names[kind], names[STATISTICS]):
        store.ensure_term_collection(name)
    used, whole_collection = None, False
    while True:
        average = (
            None if new_average else _recorded_average(names, kind, incoming=0 if used else len(payloads))
        )
        new_average, taken = False, average is None
        if average is None:
            (average, points), whole_collection = _take_average(names, kind, payloads), True
        if average == used:
            return
        stored = store.payloads(names[kind], STORED_FIELDS) if whole_collection else []
        store.upsert_terms(names[kind], [_point(payload, average) for payload in stored + payloads])
        point_metadata.record_written(session, point_metadata.carried_revisions(stored))
        if taken:
            _record_average(names, kind, points, average)  # the rewrite to it is complete
        used = average


def _term_fields(counts: Counter[str]) -> dict:
    return {TERMS: " ".join(counts), "counts": " ".join(map(str, counts.values())), "length": counts.total()}


def _counts(payload: dict) -> dict[str, int]:
    return dict(zip(payload[TERMS].split(" "), map(int, payload["counts"].split(" ")), strict=True))


def _point(payload: dict, average_length: float) -> TermPoint:
    counts = _counts(payload)
    fields = {key: value for key, value in payload.items() if key != "key"}
    return TermPoint(payload["key"], saturated_weights(counts, payload["length"], average_length), fields)


def _recorded_average(names: dict[str, str], kind: str, incoming: int) -> float | None:
    """The average recorded for the collection, or None when it has doubled or halved since."""
    store = get_vector_store()
    recorded = store.records(names[STATISTICS], [kind]).get(kind)
    points = store.size(names[kind]) + incoming
    if recorded and recorded["points"] / 2 < points < recorded["points"] * 2:
        return recorded["average_length"]
    return None


def _take_average(names: dict[str, str], kind: str, incoming: list[dict]) -> tuple[float, int]:
    """The collection's new average, recorded (as one its weights are being rewritten to) before
    they are: a writer racing the rewrite then finds it, and writes its own weights again."""
    average, points = _average_length(names[kind], incoming)
    _record_average(names, kind, points, average, rewriting=True)
    return average, points


def _average_length(name: str, incoming: Iterable[dict] = ()) -> tuple[float, int]:
    """The average length over the collection's points and `incoming` ones, and how many they are."""
    lengths = [payload["length"] for payload in get_vector_store().payloads(name, ["length"])]
    lengths += [payload["length"] for payload in incoming]
    return sum(lengths) / len(lengths), len(lengths)


def _record_average(
    names: dict[str, str], kind: str, points: int, average: float, *, rewriting: bool = False
) -> None:
    """`rewriting`: the weights are being rewritten to it; a record left so by a crash has the next
    start (or the next indexing burst's end) rewrite them all again (`settle_averages`)."""
    record = {"points": points, "average_length": average} | ({REWRITING: True} if rewriting else {})
    get_vector_store().upsert_terms(names[STATISTICS], [TermPoint(kind, {}, record)])


def statistics(dataset_id: str) -> dict[str, dict]:
    """What each term collection's weights were computed with: {kind: {points, average_length}}."""
    return get_vector_store().records(term_collections(dataset_id)[STATISTICS], [TEXTS, DOCUMENTS])


def restore_statistics(dataset_id: str, recorded: dict[str, dict]) -> None:
    """Rewrites the weights with another deployment's statistics (a restored archive's), so its
    full-text scores are the original's, and its next new average falls when the original's would."""
    names = term_collections(dataset_id)
    store = get_vector_store()
    for kind, record in recorded.items():
        if kind not in (TEXTS, DOCUMENTS) or store.size(names[kind]) == 0:
            continue
        stored = store.payloads(names[kind], STORED_FIELDS)
        store.upsert_terms(names[STATISTICS], [TermPoint(kind, {}, record)])
        store.upsert_terms(names[kind], [_point(payload, record["average_length"]) for payload in stored])


def average_lengths(dataset_id: str) -> dict[str, float]:
    """The average length each term collection's weights use now (the oracle tests configure BM25 so)."""
    return {kind: record["average_length"] for kind, record in statistics(dataset_id).items()}
