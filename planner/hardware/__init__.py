"""The hardware input: `Device` profiles read from `hardware_profiles/*.csv` and user files."""
from planner.hardware.profiles import *  # noqa: F401,F403
from planner.hardware.profiles import Device, adhoc_device, get_device, names, table

__all__ = ["Device", "adhoc_device", "get_device", "names", "table"]
