"""Event handlers per feature: what each engine event writes before commit, and what runs after."""
