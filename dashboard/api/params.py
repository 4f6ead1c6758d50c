"""Bounded request parameters shared by routes.

Database row ids are 64-bit signed integers in SQLite and PostgreSQL; a larger number in a path
or query would overflow the driver (a 500 and a dropped connection), so it is refused as 422
before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ROW_ID = 2**63 - 1
# Deep paging past this is refused: nobody reads a million rows by offset, and the bound
# keeps the number inside the database's integer range.
MAX_OFFSET = 10_000_000

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id")]


def offset_query() -> int:
    return Query(0, ge=0, le=MAX_OFFSET)
