"""releng: the release-engineering libraries behind krel (no CLI imports here)."""

__version__ = "0.1.0"
