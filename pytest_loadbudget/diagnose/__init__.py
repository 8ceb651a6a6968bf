"""Why a model loads slowly, and the fix that usually works, with this model's numbers."""
