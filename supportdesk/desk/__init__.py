"""The domain layer: the only code that changes tickets. Knows nothing of Textual or Typer."""
