"""The ``chargesite`` command line (typer + rich).

Bad input of any kind (config, data files, arguments) ends with one message naming the
problem on stderr and exit status 2, without a traceback and without writing outputs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.errors import SolverFailure, UserInputError

if TYPE_CHECKING:
    from sim.export.summary import MetricSummary, Summary

app = typer.Typer(
    name="chargesite",
    help="Charging-infrastructure siting simulator: OSM networks, demand, siting, SimPy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
if not out.is_terminal:  # piped or captured: do not squeeze the tables to 80 columns
    out = Console(width=160)
err = Console(stderr=True)


# Options shared by `run` and `sweep`.
ReplicationsOption = Annotated[
    str | None,
    typer.Option(metavar="N", help="Override simulation.replications (as the YAML key)."),
]
WorkersOption = Annotated[int, typer.Option(min=1, help="Local worker processes.")]
SchedulerOption = Annotated[
    str | None, typer.Option(help="Dask scheduler address, tcp://HOST:PORT.")
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an output folder that holds other results (nothing in it is reused).",
    ),
]

#: Metrics shown in the terminal comparison table (all are in summary.json).
_TABLE_METRICS = (
    ("difficulty_index", "difficulty", "{:.1f}"),
    ("unserved_share", "unserved", "{:.1%}"),
    ("wait_mean_min", "wait min", "{:.1f}"),
    ("wait_p95_min", "wait p95", "{:.1f}"),
    ("access_time_mean_min", "access min", "{:.1f}"),
    ("coverage_share", "coverage", "{:.1%}"),
    ("utilization_mean", "util", "{:.1%}"),
    ("energy_served_kwh", "kWh", "{:,.0f}"),
)


def _fail(message: str, *, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Bad input: one line, exit status 2.  A solver that failed on a well-formed
    problem (:class:`~sim.errors.SolverFailure`, not the user's fault): one line, exit
    status 1.  Neither prints a traceback."""
    try:
        yield
    except UserInputError as exc:
        _fail(str(exc).replace("[", "\\["))
    except SolverFailure as exc:
        _fail(str(exc).replace("[", "\\["), code=1)


class _LogLines:
    """Progress as plain log lines on stderr (output is not a terminal): one line when a
    stage starts, and for the units every tenth of the way."""

    def __init__(self) -> None:
        self.stage = ""
        self.tenth = -1

    def __call__(self, label: str, done: int, total: int) -> None:
        stage = "units" if label.startswith("simulated") else label
        tenth = 10 * done // max(total, 1)
        if stage == self.stage and (stage != "units" or tenth == self.tenth):
            return
        self.stage, self.tenth = stage, tenth
        err.print(f"{label} ({done}/{total})" if stage == "units" else label, highlight=False)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on a terminal, plain log lines otherwise; a resumed run says
    so in a plain line either way."""
    if not err.is_terminal:
        yield _LogLines()
        return
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1)

        def update(label: str, done: int, total: int) -> None:
            if "(resumed)" in label:
                bar.console.print(label, highlight=False)
            bar.update(task, description=label, completed=done, total=max(total, 1))

        yield update


@contextmanager
def _resumable(store: Path, command: str) -> Iterator[None]:
    """On Ctrl-C: say what was kept and the command that resumes, exit 130.

    The interrupt is recorded as it arrives, so one that a library wraps in its own
    error (pydantic's serializer turns a ``KeyboardInterrupt`` raised inside it into a
    ``PydanticSerializationError``) is still reported as an interrupt.
    """
    import signal
    import threading

    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if on_main_thread else None
    try:
        yield
    except Exception:
        if not interrupted:
            raise
        _interrupted(store, command)
    except KeyboardInterrupt:
        _interrupted(store, command)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGINT, previous or signal.default_int_handler)


def _interrupted(store: Path, command: str) -> NoReturn:
    kept = len(list(store.glob("*.pkl"))) if store.is_dir() else 0
    err.print(
        f"interrupted: {kept} finished unit(s) are kept in {store}; "
        f"run the same command again to resume:\n  {command}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(code=130) from None


def _command_line() -> str:
    """The command as typed (for the resume hint)."""
    import shlex

    args = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else ["chargesite"]
    if args[0] in ("__main__.py", "-m"):
        args[0] = "python -m sim"
    return " ".join(shlex.quote(a) if i else a for i, a in enumerate(args))


def _fmt(metric: MetricSummary, pattern: str) -> str:
    if metric.mean is None:
        return "-"
    text = pattern.format(metric.mean)
    half = metric.half_width
    if half is not None and half > 0:
        text += f" ±{pattern.format(half).lstrip()}"
    return text


def comparison_table(summary: Summary, /) -> Table:
    """Rich table of strategies x key metrics (mean ± half-width of the 95% CI)."""
    table = Table(
        title=f"{summary.scenario}: {summary.replications} replication(s), "
        f"{summary.days} day(s), seed {summary.seed}",
        caption="mean ± 95% CI half-width; difficulty 0 = easy, 100 = impossible",
    )
    table.add_column("strategy", style="bold", no_wrap=True)
    table.add_column("sites", justify="right")
    for _, label, _ in _TABLE_METRICS:
        table.add_column(label, justify="right")
    for row in summary.comparison_rows([m for m, _, _ in _TABLE_METRICS]):
        table.add_row(
            row.name,
            str(row.sites),
            *(_fmt(m, p) for m, (_, _, p) in zip(row.metrics, _TABLE_METRICS, strict=True)),
        )
    return table


def segment_table(summary: Summary, /) -> Table | None:
    """Per plan, its cost, the difficulty of each demand segment, the difficulty it
    removes per million CNY (against the first plan that builds nothing, as in the
    report) and each fleet's lost time (mean ± half-width of the 95% CI); ``None`` for a
    run with one segment and no swap station (its table alone, as before)."""
    from sim.export.summary import MetricSummary

    strategies = list(summary.strategies.values())
    segments = list(dict.fromkeys(seg for s in strategies for seg in s.segments))
    if len(segments) < 2 and not any(s.swap is not None for s in strategies):
        return None
    fleets = list(dict.fromkeys(f for s in strategies for f in s.fleets))
    base = summary.baseline
    table = Table(
        title="difficulty by segment and per yuan",
        caption=(
            f"removed per M CNY: {base.name}'s difficulty minus the plan's, per million CNY"
            if base is not None
            else "add a strategy without new sites (- name: existing) to see the "
            "difficulty removed per million CNY"
        ),
    )
    table.add_column("strategy", style="bold", no_wrap=True)
    table.add_column("cost M CNY", justify="right")
    table.add_column("difficulty", justify="right")
    for seg in segments:
        table.add_column(seg, justify="right")
    table.add_column("removed per M CNY", justify="right")
    for fleet in fleets:
        table.add_column(f"{fleet} lost min/veh-day", justify="right")
    for s in strategies:
        per_m = summary.per_million_cny(s.name)
        none = MetricSummary(None)  # a segment this plan had no session of
        cells = [
            s.name,
            "-" if s.cost_cny is None else f"{s.cost_cny / 1e6:,.2f}",
            _fmt(s.metrics["difficulty_index"], "{:.1f}"),
            *(
                _fmt(s.segments.get(g, {}).get("difficulty_index", none), "{:.1f}")
                for g in segments
            ),
            "-" if per_m is None else f"{per_m:.2f}",
        ]
        for fleet in fleets:
            f = s.fleets.get(fleet)
            cells.append(
                "-"
                if f is None
                else f"{_fmt(f['lost_min_per_vehicle_day'], '{:.1f}')} "
                f"({_fmt(f['lost_cny_per_vehicle_day'], '{:.0f}')} CNY)"
            )
        table.add_row(*cells)
    return table


def holiday_table(summary: Summary, /) -> Table | None:
    """Per plan, the peak day at the base plan's busiest service area (mean and
    95th-percentile wait), the vehicles run flat, the cost, and the paired differences
    against the first plan (``summary.json``'s ``holiday`` sections); ``None`` without a
    holiday on the expressway."""
    from sim.export.summary import MetricSummary

    rows = [(s, s.holiday) for s in summary.strategies.values() if s.holiday is not None]
    if not rows:
        return None
    first = rows[0][1]
    table = Table(
        title=f"holiday: day {first['peak_day']} at {first['busiest_site']} (the busiest)",
        caption=f"mean ± 95% CI half-width; Δ: paired difference against {rows[0][0].name}",
    )
    for label in ("strategy", "cost CNY", "wait min", "wait p95", "run flat", "Δ wait", "Δ flat"):
        table.add_column(label, justify="left" if label == "strategy" else "right")

    def cell(part: Any, key: str) -> str:
        m = part.get(key) if part else None
        if m is None:
            return "-"
        return _fmt(MetricSummary(m["mean"], tuple(m["ci95"])), "{:,.1f}")

    for s, h in rows:
        vs = h.get("vs_base")
        table.add_row(
            s.name,
            "-" if s.cost_cny is None else f"{s.cost_cny:,.0f}",
            cell(h, "busiest_wait_mean_min"),
            cell(h, "busiest_wait_p95_min"),
            cell(h, "stranded_vehicles"),
            cell(vs, "busiest_wait_mean_min"),
            cell(vs, "stranded_vehicles"),
        )
    return table


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

        try:
            version = metadata.version("chargesite")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
            version = "unknown"
        out.print(f"chargesite {version}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Charging-infrastructure siting simulator: OSM networks, demand, siting, SimPy."""


def _check_target(
    target: Path, name: str, *, kind: Literal["run", "sweep"], force: bool, given: Path | None
) -> None:
    """The output folder is checked before any work; ``--force`` drops its units."""
    from sim.export.writing import check_out_dir, discard_units

    what = "--out" if given is not None else ("output.dir" if kind == "run" else "output folder")
    check_out_dir(target, name, force=force, kind=kind, what=what)
    if force:
        discard_units(target)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default out/<name>).")
    ] = None,
    seed: Annotated[
        str | None, typer.Option(metavar="N", help="Override the seed (as the YAML key).")
    ] = None,
    replications: ReplicationsOption = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    force: ForceOption = False,
) -> None:
    """Run a scenario and write its output folder."""
    from sim.api import run as run_scenario
    from sim.config import load_config
    from sim.config.overrides import with_overrides
    from sim.export.writing import UNITS_DIR, write_outputs

    with _user_errors():
        scenario = with_overrides(load_config(config), seed=seed, replications=replications)
        target = out_dir if out_dir is not None else scenario.out_dir
        _check_target(target, scenario.name, kind="run", force=force, given=out_dir)
        with _resumable(target / UNITS_DIR, _command_line()), _progress() as progress:
            result = run_scenario(
                scenario,
                workers=workers,
                scheduler=scheduler,
                store=target / UNITS_DIR,
                progress=progress,
            )
            progress("writing outputs", 0, 1)
            write_outputs(result, target)
    out.print(comparison_table(result.typed_summary))
    by_segment = segment_table(result.typed_summary)
    if by_segment is not None:
        out.print(by_segment)
    holiday = holiday_table(result.typed_summary)
    if holiday is not None:
        out.print(holiday)
    from sim.export.grid import grid_table

    power = grid_table(result.typed_summary)  # with a grid section: compound power
    if power is not None:
        out.print(power)
    from sim.export.tables import phase_table

    trajectory = phase_table(result.typed_summary)  # with phases: difficulty by phase
    if trajectory is not None:
        out.print(trajectory)
    for note in result.prepared.region.notes:
        out.print(f"[dim]note: {note}[/]", highlight=False)
    out.print(f"results written to [bold]{target}[/]")


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    sets: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="KEY=V1,V2,... (dotted YAML path; repeat for a grid), "
            "e.g. demand.residential.ev_share=0.1,0.2,0.3",
        ),
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default out/<name>-sweep).")
    ] = None,
    replications: ReplicationsOption = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    force: ForceOption = False,
) -> None:
    """Run a scenario over a grid of values; write a table of all points and a figure."""
    from sim.config import load_config
    from sim.config.overrides import parse_set
    from sim.export.result import sweep_result
    from sim.export.writing import UNITS_DIR, write_sweep
    from sim.study.runner import run_sweep_study

    with _user_errors():
        parsed = [parse_set(s) for s in sets]
        base = load_config(config)
        target = out_dir if out_dir is not None else Path("out") / f"{base.name}-sweep"
        _check_target(target, base.name, kind="sweep", force=force, given=out_dir)
        with _resumable(target / UNITS_DIR, _command_line()), _progress() as progress:
            study = run_sweep_study(
                config,
                parsed,
                replications=replications,
                workers=workers,
                scheduler=scheduler,
                store=target / UNITS_DIR,
                progress=progress,
            )
            progress("writing outputs", 0, 1)
            result = sweep_result(study)
            write_sweep(result, target)
    table = Table(title=f"{base.name}: sweep of {', '.join(k for k, _ in parsed)}")
    keys = [k for k, _ in parsed]
    for k in keys:
        table.add_column(k)
    table.add_column("strategy", style="bold")
    table.add_column("difficulty", justify="right")
    table.add_column("unserved", justify="right")
    table.add_column("wait min", justify="right")
    for row in result.table.to_dict(orient="records"):
        table.add_row(
            *(str(row[k]) for k in keys),
            str(row["strategy"]),
            f"{row['difficulty_index']:.1f}",
            f"{row['unserved_share']:.1%}",
            f"{row['wait_mean_min']:.1f}",
        )
    out.print(table)
    out.print(f"results written to [bold]{target}[/]")


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario and the data it names; say what was found."""
    from sim.config import load_config
    from sim.study.runner import check_study

    with _user_errors():
        scenario = load_config(config)
        with _progress() as progress:
            prep, plans = check_study(scenario, progress=progress)
    from sim.region import describe_region

    facts = describe_region(prep.region)
    table = Table(title=f"{scenario.name}: configuration is valid", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("found")
    for key, value in facts.items():
        if key == "notes":
            continue
        table.add_row(str(key), _plain(value))
    res = scenario.demand.residential
    table.add_row(
        "EVs without home charging", f"{prep.homes.evs_without_home_charging(res).sum():,.0f}"
    )
    table.add_row("public sessions per day", f"{prep.weight.sum():,.1f}")
    for name, plan in plans.items():
        table.add_row(
            f"strategy {name}",
            f"{plan.model}: {len(plan)} site(s), {int(plan.ports.sum())} port(s), "
            f"{plan.cost_cny:,.0f} CNY",
        )
    out.print(table)
    notes = facts.get("notes") or []
    for note in notes if isinstance(notes, list | tuple) else []:
        out.print(f"[dim]note: {note}[/]", highlight=False)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "none"
    return str(value)


@app.command()
def reference() -> None:
    """Print the reference of every scenario key (Markdown)."""
    from sim.config import reference_markdown

    sys.stdout.write(reference_markdown() + "\n")


# Options of `calibrate` and `compare` (the session log's columns, docs/calibration.md).
ColumnsOption = Annotated[
    Path | None,
    typer.Option("--columns", help="Mapping file (YAML): station, start, end, disconnect, "
                 "arrival, energy, energy_unit, user, power, timezone."),
]  # fmt: skip
ColumnOption = Annotated[
    list[str] | None,
    typer.Option("--column", help="KEY=COLUMN (repeat), over the mapping file, e.g. "
                 "station=ChargerID, energy_unit=Wh, timezone=Asia/Shanghai."),
]  # fmt: skip
SkipBadOption = Annotated[
    bool, typer.Option("--skip-bad-rows", help="Report bad rows and leave them out.")
]
StrategyOption = Annotated[
    str | None, typer.Option(help="Strategy of the run to compare (default: the first).")
]


def _calibration_out(result: Any, target: Path) -> None:
    """Print a calibration (and its comparison) and write its folder."""
    from sim.calibration import summary_rows, write_calibration
    from sim.calibration.log import bad_rows_text

    skipped = bad_rows_text(result.log)
    if skipped:
        err.print(skipped, highlight=False, markup=False, soft_wrap=True)
    with _user_errors():
        write_calibration(result, target)
    table = Table(title=f"calibration from {result.log.source}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("found")
    for row in summary_rows(result):
        table.add_row(*row)
    out.print(table)
    c = result.comparison
    if c is not None:
        cmp = Table(title=f"{c.run_dir} ({c.strategy}) against {result.log.source}")
        for head in ("quantity", "simulated", "observed", "distance"):
            cmp.add_column(head, justify="left" if head == "quantity" else "right")
        for row in c.rows():
            cmp.add_row(*row)
        out.print(cmp)
    out.print(f"calibration written to [bold]{target}[/]")


@app.command()
def calibrate(
    log: Annotated[Path, typer.Argument(help="Observed session log (.csv or .parquet).")],
    config: Annotated[Path, typer.Option("--config", help="Scenario YAML to calibrate.")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default out/<name>-calibration)."),
    ] = None,
    columns: ColumnsOption = None,
    column: ColumnOption = None,
    skip_bad_rows: SkipBadOption = False,
    compare: Annotated[
        Path | None, typer.Option("--compare", help="Run folder to compare with the log.")
    ] = None,
    strategy: StrategyOption = None,
) -> None:
    """Fit a scenario's demand to an observed session log: YAML fragment and report."""
    from sim.calibration import calibrate as run_calibration
    from sim.config.calibration import mapping_from_options

    with _user_errors():
        mapping = mapping_from_options(columns, column or [])
        result = run_calibration(
            log, config=config, mapping=mapping, skip_bad_rows=skip_bad_rows,
            compare=compare, strategy=strategy,
        )  # fmt: skip
    target = out_dir if out_dir is not None else Path("out") / f"{result.scenario.name}-calibration"
    _calibration_out(result, target)


@app.command()
def compare(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of `chargesite run`.")],
    log: Annotated[Path, typer.Argument(help="Observed session log (.csv or .parquet).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default RUN_DIR-vs-<log name>)."),
    ] = None,
    columns: ColumnsOption = None,
    column: ColumnOption = None,
    skip_bad_rows: SkipBadOption = False,
    strategy: StrategyOption = None,
) -> None:
    """Compare a run's sessions with an observed log (the run's scenario is calibrated too)."""
    from sim.calibration import calibrate as run_calibration
    from sim.config.calibration import mapping_from_options

    with _user_errors():
        if not (run_dir / "config.resolved.yaml").is_file():
            raise UserInputError(f"{run_dir}: not the output folder of `chargesite run` "
                                 "(no config.resolved.yaml)")  # fmt: skip
        mapping = mapping_from_options(columns, column or [])
        result = run_calibration(
            log, config=run_dir / "config.resolved.yaml", mapping=mapping,
            skip_bad_rows=skip_bad_rows, compare=run_dir, strategy=strategy,
        )  # fmt: skip
    target = out_dir if out_dir is not None else Path(f"{run_dir}-vs-{log.stem}")
    _calibration_out(result, target)


def main() -> None:  # pragma: no cover - console entry
    """Run the command line (raises ``SystemExit`` with the command's status)."""
    app()


def entry() -> NoReturn:  # pragma: no cover - console entry
    """Console entry point (``chargesite``, ``python -m sim``): :func:`main`, then
    :func:`leave`."""
    try:
        main()
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    leave(code)


def leave(code: object, /) -> NoReturn:
    """Exit with ``code`` (a ``SystemExit`` code) without tearing the interpreter down.

    Freeing every frame, graph and module of a run one object at a time took about a
    second after a default run; instead the exit handlers run, the streams are
    flushed and ``os._exit`` ends the process, as mypy does.  With a thread of a
    library still running it leaves the ordinary way, which waits for that thread.
    """
    import atexit
    import threading

    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # type: ignore[arg-type]
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code or 0)
