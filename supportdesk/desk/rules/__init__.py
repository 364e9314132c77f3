"""Routing and automation rules: TOML definitions, conditions, actions and the engine.

Rules act only through the domain functions in `desk.tickets`, so every change a rule makes
is an ordinary event with `rule:<name>` as its actor, undoable like any other.
"""

from supportdesk.desk.rules.model import TRIGGERS, Action, Condition, RuleDef

__all__ = ["TRIGGERS", "Action", "Condition", "RuleDef"]
