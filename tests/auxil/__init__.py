"""Test helpers: fake provider servers and builders of the payloads providers send."""
