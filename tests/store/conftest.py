"""Store test fixtures (defined in tests/store/fixtures.py so other packages can import them)."""

from tests.store.fixtures import (  # noqa: F401
    commits,
    crypto,
    db,
    db_url,
    now,
    postgres_url,
    sqlite_template,
)
