"""chargesite: charging-infrastructure siting simulator."""
