"""Offline search for instanas: InstaNAS meta-graph + instance-aware controller, bundle export."""
__version__ = "0.1.0"
