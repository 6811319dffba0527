"""The store: the only part of the helpline that knows SQL (see db.py and repositories.py)."""
