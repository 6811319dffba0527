"""The audit log's pages and filters: every entry stays reachable, however many follow it."""

from __future__ import annotations

from datetime import timedelta

from bot.store.repos.audit import AuditFilter


async def test_every_entry_is_reachable_page_by_page_with_filters(db, now):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("tel:+355691110001", "sms", now)
        case = await uow.cases.open(contact.id, now)
        for i in range(250):
            await uow.audit.add(
                "stats_exported" if i % 5 else "case_closed",
                now=now + timedelta(hours=i),
                admin_user_id=1 if i % 2 else 2,
                case_id=case.id if i % 5 == 0 else None,
            )
        await uow.commit()
    seen: list[int] = []
    before = None
    async with db.uow() as uow:
        while True:
            entries, before = await uow.audit.page(AuditFilter(), before_id=before, size=40)
            seen += [e.id for e in entries]
            if before is None:
                break
        assert len(seen) == len(set(seen)) == 250 and seen == sorted(seen, reverse=True)
        # Filters combine: user 2's closings of this case on the first 50 hours.
        where = AuditFilter(
            admin_user_id=2, action="case_closed", case_id=case.id, until=now + timedelta(hours=50)
        )
        entries, more = await uow.audit.page(where, size=100)
        assert more is None and len(entries) == 5  # i = 0, 10, 20, 30, 40
        assert all(e.action == "case_closed" and e.admin_user_id == 2 for e in entries)
        since = AuditFilter(since=now + timedelta(hours=245))
        assert len((await uow.audit.page(since))[0]) == 5
        assert await uow.audit.actions() == ["case_closed", "stats_exported"]


async def test_only_later_pages_count_as_escalations_in_figures_and_metrics(db, now):
    async with db.uow() as uow:
        arta = await uow.coordinators.add(
            name="Arta",
            municipality="tirane",
            phone="+355691110001",
            telegram_chat_id=None,
            language="sq",
            role="coordinator",
            now=now,
        )
        calm = await uow.cases.open(None, now)
        escalated = await uow.cases.open(None, now)
        for case, step in ((calm, 1), (escalated, 1), (escalated, 2)):
            await uow.alerts.add(
                case_id=case.id,
                coordinator_id=arta.id,
                kind="page",
                state="waiting",
                due_at=now,
                now=now,
                step=step,
                sent_at=now,
            )
        await uow.commit()
    async with db.uow() as uow:
        figures = {f.id: f.escalations for f in await uow.stats.case_figures()}
        assert await uow.stats.alert_totals() == ({"page": 3}, 1)
    assert figures == {calm.id: 0, escalated.id: 1}
