"""The ``load_budget`` marker and the check of a model's figures against it."""
