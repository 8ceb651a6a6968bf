"""The session's side: the ``load_model`` fixture, what to load, and the models measured once and shared."""
