"""The local Azure emulator (ARM, Entra ID, Marketplace, serverless inference endpoints).

It answers the Azure wire protocol only; it never imports the `provision` tool.
"""
from .api import ControlClient, Emulator

__all__ = ["Emulator", "ControlClient"]
