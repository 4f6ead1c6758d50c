"""Create the database engine: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, cast

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.orm import Session, sessionmaker

from vms.sealing import Sealer


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
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
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
