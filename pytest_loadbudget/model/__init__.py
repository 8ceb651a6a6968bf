"""A model as every part of the plugin knows it: what to load, where it runs, its identity, its entry in the session."""
