"""Conversation flows as YAML data, their loader and validator, and the Babel extractor."""
