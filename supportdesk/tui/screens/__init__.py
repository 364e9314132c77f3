"""The console's screens: the desk itself and the small dialogs it opens."""
