"""The ``loadbudget`` command: saved runs, cold-start profiles and the TF.js set-up, without pytest."""
