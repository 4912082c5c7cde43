"""The table of siting models and the one entry point, :func:`solve`.

A model is a function ``(problem, *, rng, **params) -> SitingResult`` in its own module
under ``sim/siting/``, registered with ``@register("name", needs=Needs(...),
options={...})``: the entry declares what the model reads (a count of sites, a budget, a
radius, through-traffic flows, site capacities, ...), the parameters a scenario strategy
passes when it does not set them, and the ``strategies[].options`` keys it accepts.
:mod:`sim.siting.plan` builds every strategy's call from its entry, so a new model needs
no other code.  Built-in model modules are listed in :data:`MODEL_MODULES` and imported on
first use; a model defined elsewhere is registered when its module is imported.
"""

from __future__ import annotations

import difflib
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, Protocol

import numpy as np

from sim.errors import SolverError, SolverInputError
from sim.siting.problem import SitingProblem, SitingResult

__all__ = [
    "MODEL_MODULES",
    "ModelSpec",
    "Needs",
    "available_models",
    "model_spec",
    "register",
    "solve",
    "unregister",
]

#: Modules of ``sim.siting`` that register models; imported on first use.
MODEL_MODULES: tuple[str, ...] = (
    "pmedian",
    "mclp",
    "lscp",
    "capacitated",
    "baselines",
    "frlm",
    "pcenter",
    "backup",
    "cpmedian",
)


class ModelFunction(Protocol):
    """Signature of a registered model."""

    def __call__(
        self, problem: SitingProblem, *, rng: np.random.Generator | None, **params: object
    ) -> SitingResult: ...


@dataclass(frozen=True)
class Needs:
    """What a model reads, so that a scenario strategy can be turned into its call.

    Attributes
    ----------
    count
        The parameter ``p`` (total open sites; a strategy's ``k`` new sites, plus the kept
        existing ones when the model keeps them): ``"no"`` (not read), ``"optional"`` or
        ``"required"`` (with ``budget``, a budget may stand in for it).
    budget
        Reads ``budget`` (CNY; a strategy's ``budget_cny``).
    radius
        Reads ``radius`` (unit of cost: minutes in a scenario; a strategy's
        ``radius_min``, default ``simulation.radius_min``).
    range_km
        Reads ``range_km`` (vehicle range, km; a strategy's ``range_km``, default the
        fleet's highway range).
    flows
        Reads :attr:`SitingProblem.flows` (through-traffic routes); :func:`solve` refuses
        a problem without them.
    capacity
        Reads :attr:`SitingProblem.capacity` (demand per site, unit of weight);
        :func:`solve` refuses a problem without it.
    sites
        Reads ``sites`` (a fixed list of candidate indices: a strategy's ``sites`` or
        ``plan_file``).
    keep_existing
        Reads ``keep_existing`` itself (and its ``p`` counts the kept sites).  Otherwise
        a strategy's ``keep_existing`` adds the existing sites to the model's choice.
    """

    count: Literal["no", "optional", "required"] = "no"
    budget: bool = False
    radius: bool = False
    range_km: bool = False
    flows: bool = False
    capacity: bool = False
    sites: bool = False
    keep_existing: bool = False

    def __post_init__(self) -> None:
        if self.count not in ("no", "optional", "required"):
            raise SolverError(
                f"Needs.count = {self.count!r}: expected 'no', 'optional' or 'required'"
            )


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """One registry entry: a model function and what it needs.

    Attributes
    ----------
    name
        The name it was registered under (aliases share the entry).
    function
        The model.
    needs
        What the model reads (:class:`Needs`).
    defaults
        Parameters a scenario strategy passes when it does not set them (e.g. ``random``:
        ``{"p": 1}``).  :func:`solve` does not apply them.
    options
        The parameters a strategy may set under ``options``, each with the value the
        model uses when it is not given (for documentation and messages).
    aliases
        Further names of the entry.
    """

    name: str
    function: ModelFunction
    needs: Needs = field(default_factory=Needs)
    defaults: Mapping[str, object] = field(default_factory=lambda: _frozen(None))
    options: Mapping[str, object] = field(default_factory=lambda: _frozen(None))
    aliases: tuple[str, ...] = ()


_SPECS: dict[str, ModelSpec] = {}
_loaded = False


def register(
    name: str,
    /,
    *aliases: str,
    needs: Needs | None = None,
    defaults: Mapping[str, object] | None = None,
    options: Mapping[str, object] | None = None,
) -> Callable[[ModelFunction], ModelFunction]:
    """Register a model function under ``name`` (and optional alias names).

    Parameters
    ----------
    name
        The model name users pass to :func:`solve` and give as a strategy's ``model``
        (lower case, ``-`` separated).
    *aliases
        Further names for the same model.
    needs
        What the model reads (default: nothing beyond the problem's costs and weights).
    defaults
        Parameters a scenario strategy passes unless it sets them.
    options
        Keys a strategy may set under ``options``, with the model's own default values.

    Returns
    -------
    Callable
        A decorator that records the function and returns it unchanged.

    Raises
    ------
    SolverError
        If a name is already taken by another function.
    """
    spec_needs = needs if needs is not None else Needs()

    def decorator(fn: ModelFunction) -> ModelFunction:
        spec = ModelSpec(
            name=name,
            function=fn,
            needs=spec_needs,
            defaults=_frozen(defaults),
            options=_frozen(options),
            aliases=tuple(aliases),
        )
        for key in (name, *aliases):
            other = _SPECS.get(key)
            if other is not None and other.function is not fn:
                raise SolverError(f"siting model name {key!r} is already registered")
        for key in (name, *aliases):
            _SPECS[key] = spec
        return fn

    return decorator


def unregister(name: str, /) -> None:
    """Remove the entry registered as ``name``, with all its names.

    Raises
    ------
    SolverError
        If no model has that name.
    """
    spec = model_spec(name)
    for key in (spec.name, *spec.aliases):
        if _SPECS.get(key) is spec:
            del _SPECS[key]


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODEL_MODULES:
            importlib.import_module(f"sim.siting.{module}")
        _loaded = True


def available_models() -> list[str]:
    """Sorted names of every registered model (aliases included)."""
    _load()
    return sorted(_SPECS)


def model_spec(model: str, /) -> ModelSpec:
    """The registry entry of ``model``.

    Raises
    ------
    SolverError
        Unknown model name; the message suggests the closest name and lists them all.
    """
    _load()
    spec = _SPECS.get(model) if isinstance(model, str) else None
    if spec is None:
        names = sorted(_SPECS)
        hint = difflib.get_close_matches(str(model), names, n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise SolverError(
            f"unknown siting model {model!r}.{suggestion} Available: {', '.join(names)}"
        )
    return spec


def _check_problem(problem: SitingProblem, model: str, needs: Needs) -> None:
    """Refuse a problem that lacks what the model's entry says it reads."""
    if needs.flows and problem.flows is None:
        raise SolverInputError(
            f"{model}: SitingProblem.flows is None; expected a FlowProblem "
            "(through-traffic paths over the candidates, sim.siting.frlm)"
        )
    if needs.capacity and problem.capacity is None:
        raise SolverInputError(
            f"{model}: SitingProblem.capacity is None; expected an array of "
            f"{problem.n_candidates} site capacities (unit of weight)"
        )


def solve(
    problem: SitingProblem,
    model: str,
    /,
    *,
    rng: np.random.Generator | None = None,
    **params: object,
) -> SitingResult:
    """Solve ``problem`` with the siting model named ``model``.

    Parameters
    ----------
    problem
        The instance.
    model
        A name from :func:`available_models`, e.g. ``"p-median"``.
    rng
        Random generator for randomised models (required by ``"random"``).
    **params
        Model parameters (``p``, ``budget``, ``radius``, ``keep_existing``, ...; see
        ``docs/siting.md``).

    Returns
    -------
    SitingResult
        With ``time_s`` the wall-clock time of the call (s) and ``model`` the name given.

    Raises
    ------
    SolverError
        Unknown model name (the message lists the available ones), or the model failed.
    SolverInputError
        A malformed problem or parameter, or a problem without the flows or capacities
        the model's entry says it reads.
    """
    if not isinstance(problem, SitingProblem):
        raise SolverInputError(
            f"solve: problem is a {type(problem).__name__}; expected a SitingProblem"
        )
    spec = model_spec(model)
    _check_problem(problem, model, spec.needs)
    t0 = time.perf_counter()
    result = spec.function(problem, rng=rng, **params)
    elapsed = time.perf_counter() - t0
    return replace(result, time_s=elapsed, model=model)
