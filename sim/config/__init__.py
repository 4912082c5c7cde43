"""Stage 0, configuration: YAML in, a validated frozen :class:`Scenario` out.

Takes a scenario YAML file (or a mapping); gives a frozen pydantic :class:`Scenario`
whose sections are the typed inputs of every later stage.  This package is the only
reader of YAML (:mod:`sim.config.loading`); the schema is :mod:`sim.config.schema`; the
key reference is generated from it by :mod:`sim.config.reference`.
"""

from __future__ import annotations

from sim.config.loading import (
    dump_resolved,
    file_sha256,
    load_config,
    parse_config,
    read_yaml,
)
from sim.config.reference import reference_markdown
from sim.config.schema import (
    DEFAULT_HOURLY_HIGHWAY,
    DEFAULT_HOURLY_WEEKDAY,
    DEFAULT_HOURLY_WEEKEND,
    CandidatesConfig,
    ChargerClassConfig,
    ChargersConfig,
    CorridorConfig,
    DemandConfig,
    FleetConfig,
    FlowConfig,
    GateConfig,
    HighwayDemandConfig,
    HolidayConfig,
    HousingConfig,
    OutputConfig,
    RefineConfig,
    RegionConfig,
    ResidentialDemandConfig,
    Scenario,
    ScoreCandidatesConfig,
    ServiceAreaConfig,
    SessionCapConfig,
    SimulationConfig,
    SizingConfig,
    StrategyConfig,
    SwapClassConfig,
    SyntheticRegionConfig,
    VehicleClassConfig,
    VehiclesConfig,
)

__all__ = [
    "DEFAULT_HOURLY_HIGHWAY",
    "DEFAULT_HOURLY_WEEKDAY",
    "DEFAULT_HOURLY_WEEKEND",
    "CandidatesConfig",
    "ChargerClassConfig",
    "ChargersConfig",
    "CorridorConfig",
    "DemandConfig",
    "FleetConfig",
    "FlowConfig",
    "GateConfig",
    "HighwayDemandConfig",
    "HolidayConfig",
    "HousingConfig",
    "OutputConfig",
    "RefineConfig",
    "RegionConfig",
    "ResidentialDemandConfig",
    "Scenario",
    "ScoreCandidatesConfig",
    "ServiceAreaConfig",
    "SessionCapConfig",
    "SimulationConfig",
    "SizingConfig",
    "StrategyConfig",
    "SwapClassConfig",
    "SyntheticRegionConfig",
    "VehicleClassConfig",
    "VehiclesConfig",
    "dump_resolved",
    "file_sha256",
    "load_config",
    "parse_config",
    "read_yaml",
    "reference_markdown",
]
