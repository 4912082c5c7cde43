"""The table of siting models and the one entry point, :func:`solve`.

A model is a function ``(problem, *, rng, **params) -> SitingResult`` in its own module
under ``sim/siting/``, decorated with ``@register("name")``.  To add one: write the file
and add its module name to :data:`MODEL_MODULES` (the one registry line).
"""

from __future__ import annotations

import difflib
import importlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import numpy as np

from sim.errors import SolverError, SolverInputError
from sim.siting.problem import SitingProblem, SitingResult

__all__ = ["MODEL_MODULES", "available_models", "register", "solve"]

#: Modules of ``sim.siting`` that register models; imported on first use.
MODEL_MODULES: tuple[str, ...] = (
    "pmedian",
    "mclp",
    "lscp",
    "capacitated",
    "baselines",
)


class ModelFunction(Protocol):
    """Signature of a registered model."""

    def __call__(
        self, problem: SitingProblem, *, rng: np.random.Generator | None, **params: object
    ) -> SitingResult: ...


_MODELS: dict[str, ModelFunction] = {}
_loaded = False


def register(name: str, /, *aliases: str) -> Callable[[ModelFunction], ModelFunction]:
    """Register a model function under ``name`` (and optional alias names).

    Parameters
    ----------
    name
        The model name users pass to :func:`solve` (lower case, ``-`` separated).
    *aliases
        Further names for the same model.

    Raises
    ------
    SolverError
        If a name is already taken by another function.
    """

    def decorator(fn: ModelFunction) -> ModelFunction:
        for key in (name, *aliases):
            other = _MODELS.get(key)
            if other is not None and other is not fn:
                raise SolverError(f"siting model name {key!r} is already registered")
            _MODELS[key] = fn
        return fn

    return decorator


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODEL_MODULES:
            importlib.import_module(f"sim.siting.{module}")
        _loaded = True


def available_models() -> list[str]:
    """Sorted names of every registered model (aliases included)."""
    _load()
    return sorted(_MODELS)


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
        A malformed problem or parameter.
    """
    if not isinstance(problem, SitingProblem):
        raise SolverInputError(
            f"solve: problem is a {type(problem).__name__}; expected a SitingProblem"
        )
    _load()
    fn = _MODELS.get(model) if isinstance(model, str) else None
    if fn is None:
        names = sorted(_MODELS)
        hint = difflib.get_close_matches(str(model), names, n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise SolverError(
            f"unknown siting model {model!r}.{suggestion} Available: {', '.join(names)}"
        )
    t0 = time.perf_counter()
    result = fn(problem, rng=rng, **params)
    elapsed = time.perf_counter() - t0
    return replace(result, time_s=elapsed, model=model)
