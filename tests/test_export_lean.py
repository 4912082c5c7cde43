"""A study that writes neither sessions nor the report does not build the sessions table
(the metro scenario's memory), and its other results are the same."""

from __future__ import annotations

import copy

from sim.api import run
from sim.config import parse_config
from tests.conftest import SMALL


def test_no_sessions_table_when_nothing_reads_it() -> None:
    cfg = copy.deepcopy(SMALL)
    cfg["simulation"]["replications"] = 1
    full = run(parse_config(cfg))
    cfg["output"] = {"sessions": False, "report": False, "map": False}
    lean = run(parse_config(cfg))
    assert len(full.sessions) > 0
    assert lean.sessions.empty
    assert lean.summary == full.summary
    assert lean.per_replication.equals(full.per_replication)
    assert lean.site_load.equals(full.site_load)
