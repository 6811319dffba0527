"""Channels: translate provider payloads to neutral envelopes and send outbound messages."""
