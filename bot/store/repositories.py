"""The store's API: repositories and the plain records they return."""

from __future__ import annotations

from bot.store.records import (
    AdminUser,
    Alert,
    Assignment,
    AuditEntry,
    Case,
    CaseEvent,
    CaseFigures,
    Checkin,
    Contact,
    Coordinator,
    DutyShift,
    Fire,
    Milestone,
    Municipality,
    Order,
    OutboxItem,
    Plan,
    Publication,
    Service,
    StoredSession,
)
from bot.store.repos.accounts import AccountRepo, DuplicateUser
from bot.store.repos.admin_sessions import AdminSessionRepo
from bot.store.repos.alerts import AlertRepo, open_relay
from bot.store.repos.audit import AuditRepo
from bot.store.repos.cases import CaseRepo
from bot.store.repos.contacts import ContactRepo
from bot.store.repos.coordinators import CoordinatorRepo, DuplicateContact
from bot.store.repos.failures import FailureRepo
from bot.store.repos.fires import FireRepo
from bot.store.repos.flows import FlowRepo
from bot.store.repos.followups import FollowupRepo
from bot.store.repos.messages import MessageRepo
from bot.store.repos.municipalities import MunicipalityRepo
from bot.store.repos.outbox import OutboxRepo
from bot.store.repos.publications import PublicationRepo
from bot.store.repos.retention import RetentionRepo
from bot.store.repos.services import ServiceRepo
from bot.store.repos.sessions import SessionRepo
from bot.store.repos.stats import StatsRepo
from bot.store.repos.translations import TranslationRepo

__all__ = [
    "AccountRepo",
    "AdminSessionRepo",
    "AdminUser",
    "Alert",
    "AlertRepo",
    "Assignment",
    "AuditEntry",
    "AuditRepo",
    "Case",
    "CaseEvent",
    "CaseFigures",
    "CaseRepo",
    "Checkin",
    "Contact",
    "ContactRepo",
    "Coordinator",
    "CoordinatorRepo",
    "DuplicateContact",
    "DuplicateUser",
    "DutyShift",
    "FailureRepo",
    "Fire",
    "FireRepo",
    "FlowRepo",
    "FollowupRepo",
    "MessageRepo",
    "Milestone",
    "Municipality",
    "MunicipalityRepo",
    "Order",
    "OutboxItem",
    "OutboxRepo",
    "Plan",
    "Publication",
    "PublicationRepo",
    "RetentionRepo",
    "Service",
    "ServiceRepo",
    "SessionRepo",
    "StatsRepo",
    "StoredSession",
    "TranslationRepo",
    "open_relay",
]
