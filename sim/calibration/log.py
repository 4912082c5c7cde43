"""Read an observed session log (CSV or Parquet, one row per session) into typed arrays.

Columns are named by a :class:`~sim.config.calibration.LogMapping`.  Every row is
checked (station id present, timestamps parseable and in their time zone, energy a
number >= 0, end and disconnect not before the start, arrival not after it); bad rows
are reported by row number and column, and the log is refused unless the caller asks to
skip them (``skip_bad_rows``).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config.calibration import LogMapping
from sim.errors import ConfigError, DataError, InputFileNotFoundError

__all__ = ["BadRow", "SessionLog", "bad_rows_text", "read_log", "sessions_to_log"]

#: Bad rows quoted in a message; the rest are counted.
SHOWN_BAD_ROWS = 5

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class BadRow:
    """One refused row: 1-based data row number, the column and what is wrong."""

    row: int
    column: str
    problem: str


@dataclass(frozen=True)
class SessionLog:
    """Observed sessions, one entry per kept row (arrays of equal length).

    Attributes
    ----------
    source
        The file read.
    station_id
        object array of str.
    user_id
        object array of str (``None`` when the log has no user column; missing ids None).
    start_local
        datetime64[ns] wall-clock connection times in the site's time zone.
    charge_min, dwell_min, wait_min
        float64 minutes from connection to the end of charging, to the unplugging, and
        from arrival to connection; NaN where the log has no such column.
    energy_kwh, power_kw
        float64 (power NaN without a power column).
    rows_read
        Data rows in the file.
    skipped
        The bad rows left out (only with ``skip_bad_rows``).
    """

    source: str
    station_id: np.ndarray
    user_id: np.ndarray | None
    start_local: np.ndarray
    charge_min: np.ndarray
    dwell_min: np.ndarray
    wait_min: np.ndarray
    energy_kwh: np.ndarray
    power_kw: np.ndarray
    rows_read: int
    skipped: tuple[BadRow, ...] = ()
    timezone: str | None = None

    def __len__(self) -> int:
        return int(self.energy_kwh.shape[0])

    @property
    def busy_min(self) -> np.ndarray:
        """Minutes a port was taken per session: the dwell where known, else charging."""
        return np.where(np.isnan(self.dwell_min), self.charge_min, self.dwell_min)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: session log not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the session log ({exc})") from None
    raise DataError(f"{path}: a session log must be .csv or .parquet, got {suffix or 'none'!r}")


def _check_zone(name: str | None) -> None:
    if name is None:
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"timezone {name!r}: unknown IANA time zone (expected e.g. Asia/Shanghai, UTC)"
        ) from None


def _times(
    col: pd.Series, *, name: str, tz: str | None, source: str
) -> tuple[pd.Series, pd.Series, list[BadRow]]:
    """(absolute UTC times, wall-clock local times, bad rows) of one timestamp column."""
    n = len(col)
    bad: list[BadRow] = []
    if pd.api.types.is_datetime64_any_dtype(col):
        ser = col.reset_index(drop=True)
        aware = ser.dt.tz is not None
        text_offset = pd.Series(np.full(n, aware))
        parsed_naive = ser.dt.tz_localize(None) if aware else ser
        utc_aware = ser.dt.tz_convert("UTC") if aware else None
    else:
        text = col.astype("string").str.strip().reset_index(drop=True)
        text_offset = text.str.contains(_OFFSET, na=False).astype(bool)
        stripped = text.str.replace(_OFFSET, "", regex=True)
        parsed_naive = pd.to_datetime(stripped, errors="coerce", format="ISO8601")
        utc_aware = pd.to_datetime(
            text.where(text_offset), errors="coerce", format="ISO8601", utc=True
        )
    missing = parsed_naive.isna().to_numpy()
    raw = col.reset_index(drop=True)
    for i in np.flatnonzero(missing):
        bad.append(BadRow(int(i) + 1, name, f"unparseable timestamp {raw.iloc[i]!r}"))
    has_off = text_offset.to_numpy() & ~missing
    naive = ~text_offset.to_numpy() & ~missing
    utc = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    local = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    if has_off.any() and utc_aware is not None:
        utc[has_off] = utc_aware[has_off].astype("datetime64[ns, UTC]")
        if tz is None:
            local[has_off] = parsed_naive[has_off].astype("datetime64[ns]")
        else:
            conv = utc_aware[has_off].dt.tz_convert(tz).dt.tz_localize(None)
            local[has_off] = conv.astype("datetime64[ns]")
    if naive.any():
        if tz is None:
            first = int(np.flatnonzero(naive)[0])
            raise DataError(
                f"{source}: row {first + 1}, column {name!r}: timestamp "
                f"{raw.iloc[first]!r} has no "
                "time zone offset; name the site's zone (timezone: Asia/Shanghai in the "
                "mapping, or --column timezone=Asia/Shanghai)"
            )
        wall = parsed_naive[naive].astype("datetime64[ns]")
        loc = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        for i in np.flatnonzero(naive)[loc.isna().to_numpy()]:
            bad.append(BadRow(int(i) + 1, name, f"{raw.iloc[i]!r} is not a valid time in {tz}"))
        utc[naive] = loc.dt.tz_convert("UTC")
        local[naive] = wall
    return utc, local, bad


def _minutes(a: pd.Series, b: pd.Series) -> np.ndarray:
    return ((b - a).dt.total_seconds() / 60.0).to_numpy(dtype=float, na_value=np.nan)


def _numbers(col: pd.Series, *, name: str, optional: bool) -> tuple[np.ndarray, list[BadRow]]:
    raw = col.reset_index(drop=True)
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad: list[BadRow] = []
    given = ~raw.isna().to_numpy()
    for i in np.flatnonzero(np.isnan(vals) & (given | (not optional))):
        bad.append(BadRow(int(i) + 1, name, f"not a number: {raw.iloc[i]!r}"))
    for i in np.flatnonzero(vals < 0):
        bad.append(BadRow(int(i) + 1, name, f"negative value {vals[i]:g}"))
    return vals, bad


def _order_checks(
    mapping: LogMapping, times: dict[str, tuple[pd.Series, pd.Series]]
) -> tuple[dict[str, np.ndarray], list[BadRow]]:
    """Durations (min) from the connection, and rows whose times run backwards."""
    bad: list[BadRow] = []
    start = times["start"][0]
    out: dict[str, np.ndarray] = {}
    for key, label in (("end", "ends"), ("disconnect", "is unplugged")):
        if key in times:
            d = _minutes(start, times[key][0])
            out[key] = d
            col = str(getattr(mapping, key))
            for i in np.flatnonzero(d < 0):
                bad.append(
                    BadRow(int(i) + 1, col, f"session {label} before it starts ({d[i]:.0f} min)")
                )
    if "end" in out and "disconnect" in out:
        for i in np.flatnonzero(out["disconnect"] < out["end"]):
            bad.append(
                BadRow(int(i) + 1, str(mapping.disconnect), "unplugged before charging ended")
            )
    if "arrival" in times:
        d = _minutes(times["arrival"][0], start)
        out["arrival"] = d
        for i in np.flatnonzero(d < 0):
            bad.append(BadRow(int(i) + 1, str(mapping.arrival), "arrival after the connection"))
    return out, bad


def _bad_message(source: str, bad: list[BadRow], n: int, *, csv: bool) -> str:
    rows = sorted({b.row for b in bad})
    shown = sorted(bad, key=lambda b: (b.row, b.column))[:SHOWN_BAD_ROWS]
    where = [
        f"row {b.row}{f' (line {b.row + 1})' if csv else ''}, column {b.column!r}: {b.problem}"
        for b in shown
    ]
    more = f"; {len(bad) - len(shown)} more problem(s)" if len(bad) > len(shown) else ""
    return f"{source}: {len(rows)} bad row(s) of {n}: " + "; ".join(where) + more


def bad_rows_text(log: SessionLog, /) -> str:
    """The skipped rows of a log, counted with the first ones quoted ('' if none)."""
    if not log.skipped:
        return ""
    csv = log.source.lower().endswith(".csv")
    return "skipped " + _bad_message(log.source, list(log.skipped), log.rows_read, csv=csv)


def read_log(path: Path, /, *, mapping: LogMapping, skip_bad_rows: bool = False) -> SessionLog:
    """Read and check a session log.

    Parameters
    ----------
    path
        ``.csv`` (text columns; ISO 8601 times) or ``.parquet``.
    mapping
        Which column holds what, the energy unit (kWh or Wh) and the site's time zone.
    skip_bad_rows
        Leave bad rows out (they are listed in :attr:`SessionLog.skipped`) instead of
        refusing the log.

    Raises
    ------
    DataError
        A missing column, bad rows (count and the first ones by row number and column,
        unless skipped), no rows left, or naive timestamps with no time zone.
    ConfigError
        An unknown time zone.
    """
    _check_zone(mapping.timezone)
    table = _read_table(path).reset_index(drop=True)
    source, n = str(path), len(table)
    keys = ("station", "start", "end", "disconnect", "arrival", "energy", "user", "power")
    named = {k: getattr(mapping, k) for k in keys if getattr(mapping, k) is not None}
    for key, column in named.items():
        if column not in table.columns:
            found = ", ".join(map(str, table.columns))
            raise DataError(
                f"{source}: missing column {column!r} (the {key} column); columns found: {found}"
            )
    bad: list[BadRow] = []
    station = table[named["station"]].astype("string").str.strip()
    for i in np.flatnonzero((station.isna() | (station == "")).to_numpy()):
        bad.append(BadRow(int(i) + 1, named["station"], "no station id"))
    times: dict[str, tuple[pd.Series, pd.Series]] = {}
    for key in ("start", "end", "disconnect", "arrival"):
        if key in named:
            utc, local, b = _times(
                table[named[key]], name=named[key], tz=mapping.timezone, source=source
            )
            times[key] = (utc, local)
            bad += b
    energy, b = _numbers(table[named["energy"]], name=named["energy"], optional=False)
    bad += b
    power = np.full(n, np.nan)
    if "power" in named:
        power, b = _numbers(table[named["power"]], name=named["power"], optional=True)
        bad += b
    durations, b = _order_checks(mapping, times)
    bad += b
    parsed = _Parsed(named, station, times, energy, power, durations, bad)
    return _assemble(
        table, mapping, parsed, skip=skip_bad_rows, source=source, csv=path.suffix.lower() == ".csv"
    )


@dataclass(frozen=True)
class _Parsed:
    """The checked columns of a log, before bad rows are dropped."""

    named: dict[str, str]
    station: pd.Series
    times: dict[str, tuple[pd.Series, pd.Series]]
    energy: np.ndarray
    power: np.ndarray
    durations: dict[str, np.ndarray]
    bad: list[BadRow]


def _assemble(
    table: pd.DataFrame, mapping: LogMapping, p: _Parsed, *, skip: bool, source: str, csv: bool
) -> SessionLog:
    n = len(table)
    named, station, times, durations, bad = p.named, p.station, p.times, p.durations, p.bad
    energy, power = p.energy, p.power
    if bad and not skip:
        raise DataError(
            _bad_message(source, bad, n, csv=csv) + "; pass --skip-bad-rows to leave them out"
        )
    keep = np.ones(n, dtype=bool)
    keep[[b.row - 1 for b in bad]] = False
    if not keep.any():
        detail = f" ({_bad_message(source, bad, n, csv=csv)})" if bad else ""
        raise DataError(f"{source}: no usable session in the log{detail}")
    nan = np.full(n, np.nan)
    user = None
    if "user" in named:
        u = table[named["user"]].astype("string").str.strip()
        user = np.array([None if pd.isna(x) or x == "" else str(x) for x in u], dtype=object)
    scale = 1e-3 if mapping.energy_unit == "Wh" else 1.0
    return SessionLog(
        source=source,
        station_id=np.array([str(s) for s in station], dtype=object)[keep],
        user_id=None if user is None else user[keep],
        start_local=times["start"][1].to_numpy(dtype="datetime64[ns]")[keep],
        charge_min=durations.get("end", nan)[keep],
        dwell_min=durations.get("disconnect", nan)[keep],
        wait_min=durations.get("arrival", nan)[keep],
        energy_kwh=(energy * scale)[keep],
        power_kw=power[keep],
        rows_read=n,
        skipped=tuple(sorted(bad, key=lambda b: (b.row, b.column))),
        timezone=mapping.timezone,
    )


def sessions_to_log(
    sessions: pd.DataFrame, /, *, first_day: str, timezone: str, start_weekday: int
) -> pd.DataFrame:
    """A simulated ``sessions.parquet`` written as an observed log (charged sessions).

    Parameters
    ----------
    sessions
        Rows of ``sessions.parquet`` (minutes from 00:00 of day 1).
    first_day
        ISO date of day 1; its weekday must be ``start_weekday`` (0 = Monday).
    timezone
        IANA zone the wall-clock times are written in (with their offset).
    start_weekday
        The run's ``demand.start_weekday``.

    Returns
    -------
    pandas.DataFrame
        Columns ``station_id, user_id, arrival, start, end, energy_kwh, power_kw``, times
        as ISO 8601 text with offsets; read it with the default mapping plus
        ``arrival: arrival, energy: energy_kwh, user: user_id, power: power_kw``.
    """
    day1 = pd.Timestamp(first_day)
    if day1.weekday() != start_weekday:
        raise ConfigError(
            f"first_day {first_day} is weekday {day1.weekday()}, the run starts on "
            f"weekday {start_weekday} (0 = Monday)"
        )
    d = sessions[sessions["outcome"].astype(str) == "charged"]

    def stamp(minutes: pd.Series) -> pd.Series:
        wall = (day1 + pd.to_timedelta(minutes.to_numpy(dtype=float), unit="min")).floor("s")
        aware = pd.Series(wall).dt.tz_localize(
            timezone, ambiguous=False, nonexistent="shift_forward"
        )
        return aware.map(lambda t: t.isoformat())

    return pd.DataFrame(
        {
            "station_id": d["station_id"].astype(str).to_numpy(),
            "user_id": d["vehicle_id"].astype(str).to_numpy(),
            "arrival": stamp(d["arrival_min"]).to_numpy(),
            "start": stamp(d["start_min"]).to_numpy(),
            "end": stamp(d["end_min"]).to_numpy(),
            "energy_kwh": d["energy_kwh"].to_numpy(dtype=float),
            "power_kw": d["power_kw"].to_numpy(dtype=float),
        }
    )
