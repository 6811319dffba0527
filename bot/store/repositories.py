"""The store's API: repositories and the plain records they return."""

from __future__ import annotations

from bot.store.records import (
    Case,
    CaseEvent,
    Contact,
    Fire,
    Municipality,
    OutboxItem,
    StoredSession,
)
from bot.store.repos.cases import CaseRepo
from bot.store.repos.contacts import ContactRepo
from bot.store.repos.fires import FireRepo
from bot.store.repos.flows import FlowRepo
from bot.store.repos.messages import MessageRepo
from bot.store.repos.municipalities import MunicipalityRepo
from bot.store.repos.outbox import OutboxRepo
from bot.store.repos.sessions import SessionRepo

__all__ = [
    "Case",
    "CaseEvent",
    "CaseRepo",
    "Contact",
    "ContactRepo",
    "Fire",
    "FireRepo",
    "FlowRepo",
    "MessageRepo",
    "Municipality",
    "MunicipalityRepo",
    "OutboxItem",
    "OutboxRepo",
    "SessionRepo",
    "StoredSession",
]
