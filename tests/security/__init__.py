"""Tests that try to break privacy, security and reliability."""
