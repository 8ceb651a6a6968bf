"""Saved runs and the regression gate: storage, fingerprints, comparison, significance."""
