"""The case status machine: allowed moves, clear refusals, referrals only with consent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.referral import cases
from bot.store.records import Case


def case(status: str, consent: dict | None = None) -> Case:
    now = datetime.now(UTC)
    return Case(
        id=1, reference="R-4821", contact_id=1, municipality="tirane", urgency="urgent",
        risk_level=None, risk_score=None, flags=(), reporter=None, category=None, status=status,
        consent=consent or {}, created_at=now, updated_at=now, closed_at=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("current", "allowed"),
    [
        ("new", {"alerted", "accepted", "closed"}),
        ("alerted", {"accepted", "closed"}),
        ("accepted", {"referred", "closed"}),
        ("referred", {"referred", "closed"}),
        ("closed", set()),
    ],
)
def test_transitions(current, allowed):
    for target in cases.STATUSES:
        if target in allowed:
            cases.check(case(current), target)
        else:
            with pytest.raises(cases.InvalidTransition) as caught:
                cases.check(case(current), target)
            assert str(caught.value) == f"case R-4821 is {current}: it cannot become {target}"


def test_allowed_from():
    assert cases.allowed_from("accepted") == ("new", "alerted")
    assert cases.allowed_from("closed") == ("new", "alerted", "accepted", "referred")


def test_consent_per_service():
    c = case("accepted", {"shelter": True, "police": False})
    assert (cases.consent_for(c, "shelter"), cases.consent_for(c, "police")) == (True, False)
    assert cases.consent_for(c, "legal") is None


async def test_refer_refuses_without_consent_before_touching_the_store():
    class NoStore:
        def __getattr__(self, name):
            raise AssertionError(f"the store was used: {name}")

    with pytest.raises(cases.NoConsent, match="said no to police") as caught:
        await cases.refer(NoStore(), case("accepted", {"police": False}), 1, "police", None)
    assert caught.value.declined
    with pytest.raises(cases.NoConsent, match="was not asked about legal"):
        await cases.refer(NoStore(), case("accepted"), 1, "legal", None)
    with pytest.raises(cases.InvalidTransition):
        await cases.refer(NoStore(), case("closed", {"legal": True}), 1, "legal", None)
    with pytest.raises(ValueError, match="unknown service"):
        await cases.refer(NoStore(), case("accepted"), 1, "circus", None)
