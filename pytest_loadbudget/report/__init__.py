"""What the run prints and writes: the terminal table, JSON, Markdown, suggested budgets."""
