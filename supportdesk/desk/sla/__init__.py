"""Service levels: per-queue policies, business calendars, due times and breaches.

`calendar` (business hours, pure), `policy` (the `[[sla]]` TOML), `due` (the set-based SQL
that keeps each ticket's due time current), `storage` (policies in the store).
"""
