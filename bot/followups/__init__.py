"""Follow-ups: protection orders and integration plans, checked in on at safe times."""
