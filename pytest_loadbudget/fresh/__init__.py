"""Measurements in a fresh interpreter: one child-process protocol, the memory child and the cold child."""
