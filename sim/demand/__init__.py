"""Stage 3, demand: a region and the ``demand``/``vehicles`` sections in, sessions out.

Takes the region's home points (zones, households, EV shares) and, for through-traffic,
the origin-destination pairs of its gates with their route times; gives a
:class:`~sim.demand.model.Demand`: one row per charging need (departure time, origin,
energy, state of charge, vehicle limits, patience) drawn from an explicit
``numpy.random.Generator``.  Residential (:mod:`sim.demand.residential`) and highway
(:mod:`sim.demand.highway`) needs are merged by :func:`~sim.demand.model.merge_demand`.
"""
