"""Helpline: SMS and Telegram helpline and referral bot."""
