"""Typed figures that travel: samples, memory, cold-start profiles, one record per model."""
