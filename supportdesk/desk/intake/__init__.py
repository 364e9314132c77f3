"""Intake: mail from IMAP and from files into the store (positions, batches, crash safety)."""
