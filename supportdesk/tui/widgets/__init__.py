"""The console's widgets, one per pane: sidebar, search bar, ticket list, thread, customer."""
