"""The agent console: a Textual app over the domain layer.

Importing this package pulls in nothing heavy; the CLI imports `supportdesk.tui.app` only
inside the commands that open the console, so `supportdesk --help` never loads Textual.
"""
