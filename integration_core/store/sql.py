"""Portable SQL expressions the ORM does not provide."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["epoch_seconds"]


class epoch_seconds(FunctionElement[int]):
    """A UTC timestamp column as whole POSIX seconds, computed by the database.

    Hot read paths that only compare instants use it to skip building a datetime per row.
    """

    type = BigInteger()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds)
def _epoch_default(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(column, **kw)}) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses  # stored as naive UTC text, which strftime reads as UTC
    return f"CAST(strftime('%s', {compiler.process(column, **kw)}) AS INTEGER)"
