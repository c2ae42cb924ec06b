"""Errors of the history store, written for the person who runs homescope."""

from __future__ import annotations

from engine.errors import ExitCode, HomescopeError


class StoreError(HomescopeError):
    """The history store cannot be opened, read or written."""

    title = "History store"
    exit_code = ExitCode.NO_INPUT


class StoreVersionError(StoreError):
    """The store was written by a newer homescope: its schema is unknown to this one."""

    title = "History store from a newer homescope"


class StoreBusyError(StoreError):
    """Another process has the store open for writing (DuckDB allows one writer process)."""

    title = "History store in use"
