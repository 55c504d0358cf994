"""thermbench: a reproducible benchmark for facial landmark detection in thermal images."""

__version__ = "0.1.0"
