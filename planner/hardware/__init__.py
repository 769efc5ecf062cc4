"""The hardware input: `Device` profiles read from `hardware_profiles/*.csv` and user files."""
from planner.hardware.device import PRECISIONS, Device
from planner.hardware.profiles import (ENV_PATH, adhoc_device, devices, get_device, names, rows,
                                       table)

__all__ = ["PRECISIONS", "Device", "ENV_PATH", "adhoc_device", "devices", "get_device", "names",
           "rows", "table"]
