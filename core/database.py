"""Database engine, ORM base and session helpers shared by every domain."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import (
    JSON,
    BindParameter,
    CursorResult,
    Engine,
    Result,
    Select,
    String,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from core.settings import get_settings

T = TypeVar("T")

# JSONB on PostgreSQL so later metadata filters can use its operators; plain JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class _IdList(TypeDecorator):
    """A list of ids bound as one parameter: an array on PostgreSQL, a JSON array on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(ARRAY(String()) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value, dialect):
        ids = list(value)
        return ids if dialect.name == "postgresql" else orjson.dumps(ids).decode()


def ids_parameter(name: str) -> BindParameter[Any]:
    """A parameter that takes a list of ids at execution, for `AmongIds`."""
    return bindparam(name, type_=_IdList())


class AmongIds(ColumnElement[Any]):
    """`column` is one of the ids bound to `ids` (an `ids_parameter`). An expanding IN renders one
    placeholder per id, so every count of ids is another statement: PostgreSQL planned each anew (its
    prepared statements never applied) and the driver adapted each id, which made a search's lookups
    cost more than the search on PostgreSQL. This statement is one text for any number of ids."""

    inherit_cache = True
    # Not Boolean: SQLite's compiler would compare a Boolean expression with 1, which hides the ids
    # from its planner.
    type = NullType()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], ids: BindParameter[Any]):
        self.column, self.ids = column, ids


@compiles(AmongIds)
def _among_ids(element: AmongIds, compiler, **kw) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(AmongIds, "postgresql")
def _among_ids_postgresql(element: AmongIds, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.ids, **kw)})"


def rows_at_once(session: Session, statement: Select[Any], parameters: dict[str, Any]) -> list[tuple]:
    """The rows of a statement whose columns are plain values (text, numbers). On SQLite they come
    back as one JSON array: Python's driver releases the interpreter lock for every row it steps
    through, and under concurrent searches each release waits for another thread to hand the lock
    back (up to its 5 ms switch interval): with 4 clients, the live-chunk lookups of 150 ids took two
    fifths of the search threads' time. PostgreSQL's driver reads the whole answer in one call."""
    if session.get_bind().dialect.name != "sqlite":
        return [tuple(row) for row in session.execute(statement, parameters)]
    packed = session.scalar(_packed(statement), parameters)
    return [tuple(row) for row in orjson.loads(packed)]


@cache
def _packed(statement: Select[Any]) -> Select[Any]:
    """`statement`'s rows as one JSON array of arrays (SQLite); built once per statement."""
    rows = statement.subquery()
    return select(func.json_group_array(func.json_array(*rows.c)))


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Naive UTC: both SQLite and PostgreSQL `timestamp` columns store it unchanged."""
    return datetime.now(UTC).replace(tzinfo=None)


def rows_changed(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE changed (its cursor's count)."""
    return cast(CursorResult[Any], result).rowcount


def existing(session: Session, model: type[T], key: str) -> T:
    """A row the caller knows exists (its own foreign key, one it just read): a missing one was deleted
    meanwhile, which ends the caller's work with a clear reason."""
    row = session.get(model, key)
    if row is None:
        raise LookupError(f"{model.__name__} {key} was deleted meanwhile")
    return row


def unix_seconds(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int(moment.replace(tzinfo=UTC).timestamp())


_engines: dict[str, Engine] = {}


def paginate(session: Session, query: Select, page: int, limit: int, *order_by) -> tuple[list, int]:
    """One page of `query` (1-based) in `order_by` order, and the total number of rows it matches."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order_by).offset((page - 1) * limit).limit(limit)).all()
    return list(rows), total


def _configure_sqlite(dbapi_connection, _record) -> None:
    # WAL lets `kb keys create` write while the server reads; busy_timeout waits out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is still crash-safe; it skips an fsync per commit (only a power loss can
    # undo the last commits), which the many small commits of indexing would otherwise pay.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_analyzed_segments: dict[str, int] = {}


def refresh_sqlite_statistics(session: Session) -> bool:
    """SQLite keeps no planner statistics by itself; without them its planner checked the liveness of
    30 search hits by scanning every completed document (13 ms at 25,000 chunks; 0.05 ms once
    analysed). ANALYZE runs whenever the number of segments has doubled since the last one, so it
    runs about log2(n) times over a dataset's growth. PostgreSQL's autovacuum keeps its own."""
    engine = session.get_bind().engine
    if engine.dialect.name != "sqlite":
        return False
    segments = session.execute(text("SELECT count(*) FROM segments")).scalar() or 0
    if segments < 2 * _analyzed_segments.get(str(engine.url), 0) or not segments:
        return False
    session.execute(text("ANALYZE"))
    session.commit()
    _analyzed_segments[str(engine.url)] = segments
    return True


def build_engine(url: str) -> Engine:
    """Connections for every request the API admits at once, and 10 for the worker, the sweeps and the
    metrics (`api.admission`: a request never waits for a connection while holding a thread)."""
    pool = {"pool_size": 10, "max_overflow": get_settings().api_concurrency}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def get_engine(url: str | None = None) -> Engine:
    # Foreign keys name tables of other domains: every model must be registered before the first query.
    import core.models  # noqa: F401

    url = url or get_settings().resolved_database_url
    if url not in _engines:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        _engines[url] = build_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def open_session() -> Session:
    return Session(get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commits on success (which flushes queued tasks), rolls back on error."""
    session = open_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
