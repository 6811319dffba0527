"""Web pages: the simulator now, the admin UI later."""
