"""Referral: coordinators on duty, urgent alerts, acceptance, escalation, cases and services."""
