"""The part of the store a load reads: a sensor (or all) and a span of capture time [start, end)."""

from __future__ import annotations

import duckdb

from engine.store.schema import COUNTER_BIN


def _number(value: float) -> str:
    return repr(float(value))


class Range:
    """SQL conditions for one load. Values are written into the conditions (numbers and one quoted
    string), so every query of the load reads the same selection without parameter bookkeeping."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, start: float | None, end: float | None, sensor: str | None
    ) -> None:
        self.start = start
        self.end = end
        self.sensor = sensor
        self._sensor = "TRUE" if sensor is None else "sensor = '" + sensor.replace("'", "''") + "'"
        rows = con.execute(
            f"""SELECT DISTINCT b.run_id, r.sensor, r.depth FROM traffic_bins b JOIN runs r USING (run_id)
                WHERE {self.bins("b.")} ORDER BY 1"""
        ).fetchall()
        self.runs = [int(row[0]) for row in rows]
        self.sensors = sorted({row[1] for row in rows})
        self.full = any(row[2] == "full" for row in rows) or not rows

    def _sensor_of(self, prefix: str) -> str:
        return self._sensor.replace("sensor", f"{prefix}sensor", 1)

    def _time(self, lo_column: str, hi_column: str) -> str:
        parts = [self._sensor_of(lo_column[: lo_column.rfind(".") + 1])]
        if self.start is not None:
            parts.append(f"{hi_column} >= {_number(self.start)}")
        if self.end is not None:
            parts.append(f"{lo_column} < {_number(self.end)}")
        return " AND ".join(parts)

    def bins(self, prefix: str = "") -> str:
        """Counter bins (an hour of capture time each) that overlap the range."""
        parts = [self._sensor_of(prefix)]
        if self.start is not None:
            parts.append(f"{prefix}bin_start + {COUNTER_BIN} > {_number(self.start)}")
        if self.end is not None:
            parts.append(f"{prefix}bin_start < {_number(self.end)}")
        return " AND ".join(parts)

    def timeline(self, resolution: int) -> str:
        parts = [self._sensor, f"resolution = {int(resolution)}"]
        if self.start is not None:
            parts.append(f"bin_start + {int(resolution)} > {_number(self.start)}")
        if self.end is not None:
            parts.append(f"bin_start < {_number(self.end)}")
        return " AND ".join(parts)

    def times(self, column: str) -> str:
        """Rows whose time (`column`, perhaps with a table prefix) lies in the range."""
        return self._time(column, column)

    def spans(self, prefix: str = "") -> str:
        """Rows whose [first_ts, last_ts] overlaps the range."""
        return self._time(f"{prefix}first_ts", f"{prefix}last_ts")

    def run_list(self) -> str:
        """The runs with traffic in the range, for `run_id IN (...)`."""
        return ", ".join(str(r) for r in self.runs) or "NULL"
