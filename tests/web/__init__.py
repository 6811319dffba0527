"""Tests of bot/web: the simulator page, its WebSocket protocol, the browser."""
