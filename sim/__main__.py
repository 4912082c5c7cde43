"""``python -m sim ...`` is the ``chargesite`` command line."""

from sim.cli import entry

entry()
