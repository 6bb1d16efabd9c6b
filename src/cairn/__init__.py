"""Cairn: a shared-data analytical database whose whole durable state lives on object storage."""

__version__ = "0.1.0"
