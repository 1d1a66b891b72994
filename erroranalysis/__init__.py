"""Error analysis and data prioritization for machine-learning models."""

__version__ = "0.1.0"
