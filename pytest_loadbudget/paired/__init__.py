"""The paired gate: the baseline artifact and the candidate measured in the same run, pair by pair."""
