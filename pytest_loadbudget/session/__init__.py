"""The session's side: the ``load_model`` fixture, what it was given resolved, and the models measured once and shared."""
