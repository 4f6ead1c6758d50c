"""Create the database engine: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, cast

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.orm import Session, sessionmaker

from vms.sealing import Sealer

# libpq waits for a connection as long as TCP does: a blackholed database host costs minutes of
# SYN retries, and every caller of the pool waits with it (the index writer, hence recording).
# These bound it; a ``database_url`` query parameter of the same name overrides each one.
POSTGRES_CONNECT_ARGS: dict[str, int] = {
    "connect_timeout": 3,  # s, the whole attempt (TCP, TLS, start-up, authentication)
    # An established connection whose peer went silent: sent data unacknowledged this long
    # (ms) closes it, and an idle one is probed after 5 s, then every 2 s, 3 times.
    "tcp_user_timeout": 5000,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


def _normalise(url: str) -> str:
    # Let operators write the familiar postgresql:// and still get the psycopg 3 driver.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """An engine plus a session factory; ``create_schema()`` migrates the schema to the newest revision."""

    def __init__(self, url: str, sealer: Sealer | None = None) -> None:
        """``sealer`` (``vms.sealing.Sealer``) seals the ``SealedText`` columns (camera passwords, two-factor seeds)."""
        self.url = _normalise(url)
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            connect_args = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k not in parsed.query}
            if not parsed.get_backend_name().startswith("postgresql"):
                connect_args = {}
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                        connect_args=connect_args)
        # Column types reach the sealer through the engine's dialect (each engine its own key).
        setattr(self.engine.dialect, "vms_sealer", sealer)  # noqa: B010 (an attribute of our own on a library object)
        self.sealed = sealer is not None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        """Create or upgrade the schema to the newest migration (``vms.db.migrate``; rows are kept).

        Scale-out processes start together: the first migrates under the start lock, the others wait.
        """
        from vms.db.migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions() as session:
            with session.begin():
                yield session

    def ping(self) -> None:
        """Ask the database something trivial; raises SQLAlchemy's error when it does not answer."""
        with self.session() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (``Session.execute`` types every result as ``Result``)."""
    return int(cast(CursorResult[Any], result).rowcount)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while workers write; NORMAL sync is safe with WAL and much faster.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
