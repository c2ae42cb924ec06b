"""Moving numpy columns in and out of DuckDB, and the keyed arithmetic of counters.

DuckDB scans a dict of numpy arrays in place (no pandas, no pyarrow: neither is needed by the engine), so
a flush hands over whole columns. Rows are replaced by key: a run rewrites only the rows that changed
since its previous flush.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

Columns = dict[str, npt.NDArray[Any]]
_names = itertools.count()


def object_column(values: Iterable[object]) -> npt.NDArray[np.object_]:
    """A 1-D object array of the values as they are (lists stay lists, None stays None)."""
    items = list(values)
    out = np.empty(len(items), dtype=object)
    if items and not isinstance(items[0], list | tuple):
        try:
            out[:] = items  # strings, numbers, None: one copy
            return out
        except ValueError:
            pass
    for i, v in enumerate(items):
        out[i] = v
    return out


def constant_column(value: object, n: int) -> npt.NDArray[np.object_]:
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


def length(rows: Mapping[str, npt.NDArray[Any]]) -> int:
    return int(next(iter(rows.values())).shape[0]) if rows else 0


def take(rows: Mapping[str, npt.NDArray[Any]], sel: npt.NDArray[Any]) -> Columns:
    return {k: v[sel] for k, v in rows.items()}


def _select(name: str, constants: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    extra = "".join(f", $const_{k} AS {k}" for k in constants)
    return f"SELECT *{extra} FROM {name}", {f"const_{k}": v for k, v in constants.items()}


def insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Mapping[str, npt.NDArray[Any]],
    constants: Mapping[str, object] | None = None,
) -> int:
    """Append rows (columns by name, plus `constants` for every row) to a table; returns how many."""
    n = length(rows)
    if not n:
        return 0
    name = f"incoming_{next(_names)}"
    con.register(name, dict(rows))
    try:
        select, params = _select(name, constants or {})
        con.execute(f"INSERT INTO {table} BY NAME {select}", params)
    finally:
        con.unregister(name)
    return n


def replace(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Mapping[str, npt.NDArray[Any]],
    keys: Sequence[str],
    where: Mapping[str, object],
    constants: Mapping[str, object] | None = None,
    since: Mapping[str, object] | None = None,
) -> int:
    """Replace the rows of `table` that match `where` (column = value) and one of the incoming rows' `keys`
    by the incoming rows. `since` (column >= value) lets DuckDB skip older row groups."""
    n = length(rows)
    if not n:
        return 0
    name = f"incoming_{next(_names)}"
    con.register(name, dict(rows))
    try:
        conditions = [f"{table}.{col} = ${col}" for col in where]
        conditions += [f"{table}.{col} >= $since_{col}" for col in since or {}]
        conditions += [f"{table}.{k} = i.{k}" for k in keys]
        params = {**where, **{f"since_{col}": v for col, v in (since or {}).items()}}
        con.execute(f"DELETE FROM {table} USING {name} AS i WHERE {' AND '.join(conditions)}", params)
        select, params = _select(name, constants or {})
        con.execute(f"INSERT INTO {table} BY NAME {select}", params)
    finally:
        con.unregister(name)
    return n


def first_row(con: duckdb.DuckDBPyConnection, query: str, params: object = None) -> tuple[Any, ...] | None:
    """The first row of a query's result (the whole result is read: DuckDB wants results finished)."""
    rows = (con.execute(query, params) if params is not None else con.execute(query)).fetchall()
    return tuple(rows[0]) if rows else None


def one(con: duckdb.DuckDBPyConnection, query: str, params: object = None) -> tuple[Any, ...]:
    """The one row of an aggregate query."""
    found = first_row(con, query, params)
    if found is None:
        raise AssertionError(f"no row from {query!r}")
    return found


def fetch(con: duckdb.DuckDBPyConnection, query: str, params: object = None) -> Columns:
    """A query's result as numpy columns (NULLs of numeric columns become masked; use COALESCE)."""
    result = con.execute(query, params) if params is not None else con.execute(query)
    raw = result.fetchnumpy()
    out: Columns = {}
    for k, column in raw.items():
        if isinstance(column, np.ma.MaskedArray):
            data = np.array(column.data)
            if data.dtype == object:  # NULL becomes None; numeric NULLs are left to the query (COALESCE)
                data[np.ma.getmaskarray(column)] = None
            out[k] = data
        else:
            out[k] = np.asarray(column)
    return out


def keyed_difference(
    keys_new: npt.NDArray[Any],
    values_new: npt.NDArray[np.int64],
    keys_old: npt.NDArray[Any] | None,
    values_old: npt.NDArray[np.int64] | None,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """new - old per key, over the keys of both (2-D key arrays, one row per key; 2-D values)."""
    if keys_old is None or values_old is None or not keys_old.shape[0]:
        return keys_new, values_new.copy()
    if not keys_new.shape[0]:
        return keys_old, -values_old
    both = np.concatenate([keys_new, keys_old])
    uniq, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    out = np.zeros((uniq.shape[0], values_new.shape[1]), dtype=np.int64)
    n = keys_new.shape[0]
    np.add.at(out, inverse[:n], values_new)
    np.subtract.at(out, inverse[n:], values_old)
    return uniq, out


def changed(
    keys: npt.NDArray[Any],
    values: npt.NDArray[Any],
    old_keys: npt.NDArray[Any] | None,
    old_values: npt.NDArray[Any] | None,
) -> npt.NDArray[np.bool_]:
    """Which rows (keys, values) differ from the rows written before (old_keys, old_values), or are new."""
    if old_keys is None or old_values is None or not old_keys.shape[0]:
        return np.ones(keys.shape[0], dtype=bool)
    both = np.concatenate([keys, old_keys])
    _, first, inverse = np.unique(both, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = keys.shape[0]
    slot_of_old = np.full(first.shape[0], -1, dtype=np.int64)
    slot_of_old[inverse[n:]] = np.arange(old_keys.shape[0])
    match = slot_of_old[inverse[:n]]
    result = np.ones(n, dtype=bool)
    found = match >= 0
    same = np.all(values[found] == old_values[match[found]], axis=1)
    result[np.flatnonzero(found)[same]] = False
    return result
