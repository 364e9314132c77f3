"""Theme files become Textual themes; the app's own colours travel as theme variables.

Widgets style statuses, priorities and the overdue cue with `$status-open`,
`$priority-urgent`, `$sla-overdue` and so on, never with literal colours, so every theme
(and a user's override) reaches every cue. `FALLBACK_VARIABLES` keeps the stylesheet valid
under a theme that does not define them (Textual's built-in ones).
"""

from __future__ import annotations

from textual.theme import Theme

from supportdesk.themes import ThemeFile

FALLBACK_VARIABLES: dict[str, str] = {
    "status-new": "#5fafff",
    "status-open": "#ff875f",
    "status-pending": "#afafd7",
    "status-on-hold": "#d7afff",
    "status-solved": "#87d787",
    "status-closed": "#808080",
    "priority-low": "#808080",
    "priority-normal": "#d0d0d0",
    "priority-high": "#ffaf5f",
    "priority-urgent": "#ff5f5f",
    "sla-overdue": "#ff5f5f",
    "sla-due-soon": "#ffd75f",
}


def textual_theme(theme: ThemeFile) -> Theme:
    """A Textual theme carrying the file's base colours and its app-specific variables."""
    colors = theme.colors
    return Theme(
        name=theme.name,
        primary=colors.primary,
        secondary=colors.secondary,
        accent=colors.accent,
        foreground=colors.foreground,
        background=colors.background,
        surface=colors.surface,
        panel=colors.panel,
        success=colors.success,
        warning=colors.warning,
        error=colors.error,
        dark=theme.dark,
        variables=theme.variables(),
    )
