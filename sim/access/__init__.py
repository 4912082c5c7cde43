"""Stage 2, access: road graph in, travel times out.

Takes the region's projected road graph (:class:`networkx.MultiDiGraph`, metres and
seconds); gives a CSR :class:`~sim.access.network.RoadNetwork` and multi-source
shortest-path matrices (:func:`~sim.access.network.travel_time_matrix`, seconds or
metres), plus the plain-array statics the simulation's access tables are built from
(nearest stations, stations along a route; :mod:`sim.access.stations`).  One Dijkstra
per matrix: nothing here is computed twice.
"""

from __future__ import annotations

from sim.access.network import RoadNetwork, build_network, travel_time_matrix

__all__ = ["RoadNetwork", "build_network", "travel_time_matrix"]
