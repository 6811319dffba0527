"""Sessions and their timers: the conversation's state saved, a wait's timeout and expiry fires."""

from __future__ import annotations

from datetime import datetime

from bot.engine import events as ev
from bot.engine.session import Session
from bot.handlers.registry import Handlers, Turn

FIRE_TIMEOUT = "wait_timeout"
FIRE_EXPIRE = "session_expire"


async def save_session(turn: Turn) -> None:
    """Save the engine's session (ending one it replaced) first: fires point at its row."""
    uow, contact, stored, now = turn.uow, turn.contact, turn.stored, turn.now
    session_id = stored.id if stored else None
    if turn.outcome.new_session and stored is not None:
        if stored.status != "ended":
            old = Session.from_dict(stored.state)
            old.status, old.ended_reason = "ended", old.ended_reason or "replaced"
            await uow.sessions.save(contact.id, stored.id, old.to_dict(), "ended", now)
        await uow.fires.cancel_for_session(stored.id)
        session_id = None
    session = turn.session
    if session is not None:
        status = "ended" if session.status == "ended" else "waiting"
        session_id = await uow.sessions.save(contact.id, session_id, session.to_dict(), status, now)
    turn.session_id = session_id


async def wait_started(turn: Turn, event: ev.WaitStarted) -> None:
    """A wait's timeout (if it has one), and the expiry of a session new in this turn, as fire
    rows.

    Performance: a session has one expiry timer, set with its first wait; every later message
    moves the expiry on without writing it, and the timer, firing early, is set again at the
    session's expiry then (rearm_expiry): one statement less for nearly every message."""
    if turn.session_id is None:
        return
    uow, contact_id, session_id, now = turn.uow, turn.contact.id, turn.session_id, turn.now
    timers: list[tuple[str, str]] = []
    if event.timeout_at:
        timers.append((FIRE_TIMEOUT, event.timeout_at))
    if turn.stored is None or turn.outcome.new_session:  # a session row new in this turn
        timers.append((FIRE_EXPIRE, event.expires_at))
    for kind, due_at in timers:
        await uow.fires.schedule(
            contact_id=contact_id,
            session_id=session_id,
            kind=kind,
            due_at=datetime.fromisoformat(due_at),
            seq=event.seq,
            now=now,
        )


async def rearm_expiry(turn: Turn) -> None:
    """The expiry timer fired before the session's expiry (she wrote since it was set): set
    it again for then."""
    session = turn.session
    if turn.session_id is None or session is None or session.status == "ended":
        return
    if not session.expires_at:
        return
    await turn.uow.fires.schedule(
        contact_id=turn.contact.id,
        session_id=turn.session_id,
        kind=FIRE_EXPIRE,
        due_at=datetime.fromisoformat(session.expires_at),
        seq=session.wait_seq,
        now=turn.now,
    )


async def session_ended(turn: Turn, event: ev.SessionEnded) -> None:
    """An ended session's timers will never be wanted."""
    if turn.session_id is not None:
        await turn.uow.fires.cancel_for_session(turn.session_id)


def register(handlers: Handlers) -> None:
    """Sessions' handlers."""
    handlers.on(ev.WaitStarted, wait_started)
    handlers.on(ev.SessionEnded, session_ended)
