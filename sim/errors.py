"""The one error hierarchy of chargesite.

Every error raised on purpose by chargesite derives from :class:`ChargesiteError` and
also from the builtin it refines, so callers may catch either.  Messages name the
argument or key path, the value received and what was expected.

The command line turns every :class:`UserInputError` into one line on stderr and exit
status 2, without a traceback.
"""

from __future__ import annotations


class ChargesiteError(Exception):
    """Base class of every error chargesite raises on purpose."""


class UserInputError(ChargesiteError):
    """Bad input from the user: a config, a data file, a CLI argument.

    The CLI reports these with exit status 2 and no traceback.
    """


class ConfigError(UserInputError, ValueError):
    """A scenario YAML that does not validate (key path, value, expectation)."""


class DataError(UserInputError, ValueError):
    """A data file (OSM extract, sites CSV/GeoJSON, zones file) that cannot be used."""


class InputFileNotFoundError(UserInputError, FileNotFoundError):
    """A file named by the user does not exist."""


class RegionDownloadError(UserInputError, ConnectionError):
    """A place or bounding box could not be downloaded and is not in the cache."""


class SolverError(ChargesiteError, RuntimeError):
    """A siting model could not be solved (infeasible, unknown model, bad parameters)."""


class SolverFailure(SolverError):
    """The solver itself failed on a well-formed problem (HiGHS gave no answer even on a
    fresh instance).  Not the user's input: the CLI reports it with exit status 1."""


class SolverInputError(SolverError, ValueError):
    """A siting problem or solver parameter that is malformed (shape, sign, range)."""
