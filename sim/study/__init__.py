"""Stage 8, study: the one runner.

Takes a validated scenario (or a grid of them); gives every strategy's plan and every
(strategy, replication) unit's scores.  The steps, in order: prepare the static inputs
(region, travel times, expected demand), make the plans, optionally refine them by
simulation, run the units (in-process, on a process pool or on Dask; resumable from a
unit store), score, and optionally score every candidate by simulation.  ``chargesite
run``, ``chargesite sweep``, :func:`sim.api.run` and the benchmarks all go through it.
"""
