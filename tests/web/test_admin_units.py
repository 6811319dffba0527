"""Admin web pieces without a server: passwords, CSRF, roles, stats, charts, diagrams, texts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.flows.library import FlowLibrary
from bot.i18n import Catalogs
from bot.store.models import CASE_STATUSES, RISK_LEVELS, URGENCIES
from bot.store.records import AdminUser, CaseFigures
from bot.web import auth, stats
from bot.web.charts import bar_chart, weekly_chart
from bot.web.flow_diagram import layers, render_svg
from bot.web.flows_pages import check_source, segment_table
from bot.web.translations_pages import placeholders_problem
from bot.web.ui_texts import texts, translator

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


def user(role: str, municipality: str | None = None) -> AdminUser:
    return AdminUser(1, "u", "", role, municipality, "sq", True, T0, None)


def test_passwords_are_argon2_and_verified_in_constant_work() -> None:
    hashed = auth.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert auth.verify_password(hashed, "correct horse battery")
    assert not auth.verify_password(hashed, "correct horse batterY")
    assert not auth.verify_password(None, "correct horse battery")  # unknown user
    assert not auth.verify_password("not a hash", "x")
    with pytest.raises(auth.PasswordRejected):
        auth.hash_password("short")


def test_csrf_tokens_belong_to_one_session() -> None:
    token = auth.csrf_token("secret", "session-a")
    assert auth.csrf_ok("secret", "session-a", token)
    assert not auth.csrf_ok("secret", "session-b", token)
    assert not auth.csrf_ok("other secret", "session-a", token)
    assert not auth.csrf_ok("secret", None, token)
    assert not auth.csrf_ok("secret", "session-a", None)


def test_session_tokens_are_stored_only_as_hashes() -> None:
    token = auth.new_token()
    assert len(token) >= 40 and auth.token_hash(token) != token
    assert auth.token_hash(token) == auth.token_hash(token)


def test_login_is_locked_by_name_or_by_address() -> None:
    assert not auth.locked(auth.MAX_USER_FAILURES - 1, auth.MAX_ADDRESS_FAILURES - 1)
    assert auth.locked(auth.MAX_USER_FAILURES, 0)
    assert auth.locked(0, auth.MAX_ADDRESS_FAILURES)
    keys = auth.login_keys(lambda v: f"h({v})", " Boss ", "10.0.0.1")
    assert keys.user == "h(admin-login-user:boss)" and "10.0.0.1" in keys.address


def test_roles_limit_cases_to_the_coordinators_municipality() -> None:
    assert auth.can_see_case(user("admin"), "durres") and auth.case_scope(user("admin")) is None
    tirana = user("coordinator", "tirane")
    assert auth.can_see_case(tirana, "tirane")
    assert not auth.can_see_case(tirana, "durres") and not auth.can_see_case(tirana, None)
    assert auth.case_scope(tirana) == "tirane"
    nowhere = user("coordinator", None)
    assert not auth.can_see_case(nowhere, None) and auth.case_scope(nowhere) not in (None, "")


def test_user_names_are_plain() -> None:
    assert auth.valid_username("arta.k") and auth.valid_username("b_2")
    assert not auth.valid_username("A") and not auth.valid_username("ëmri")
    assert not auth.valid_username("a b")


def figures(place: str, n: int, *, accepted_after: float | None = None) -> list[CaseFigures]:
    return [
        CaseFigures(
            id=i,
            municipality=place,
            created_at=T0 + timedelta(days=i % 10),
            urgency="urgent" if i % 2 else "normal",
            risk_level="high" if i % 3 == 0 else "standard",
            category=None,
            status="new",
            accepted_at=T0 + timedelta(days=i % 10, minutes=accepted_after + i)
            if accepted_after is not None
            else None,
            escalations=1 if i == 0 else 0,
        )
        for i in range(n)
    ]


def test_small_counts_are_suppressed_in_the_export() -> None:
    assert [stats.suppress(n) for n in (0, 1, 4, 5, 7, 8, 12, 13)] == [
        0, "<5", "<5", 5, 5, 10, 10, 15
    ]  # fmt: skip
    summary = stats.summarise(figures("has", 3) + figures("tirane", 5), {"respected": 2})
    rows = stats.csv_export(summary).splitlines()
    assert rows[0] == "metric,group,week,count"
    assert "cases,has,2026-03-02,<5" in rows and "cases,tirane,2026-03-02,5" in rows
    assert "followup_outcome,respected,,<5" in rows
    assert "minutes_to_acceptance_p50,all,," in rows  # nothing accepted: nothing to show
    # No row anywhere carries a count from 1 to 4.
    for row in rows[1:]:
        value = row.rsplit(",", 1)[1]
        assert not (value.isdigit() and 0 < int(value) < stats.SUPPRESS_BELOW), row


def cases_in(place: str, n: int, risk: str, start: int = 0) -> list[CaseFigures]:
    return [
        CaseFigures(
            id=start + i,
            municipality=place,
            created_at=T0,
            urgency="normal",
            risk_level=risk,
            category=None,
            status="new",
            accepted_at=None,
            escalations=0,
        )
        for i in range(n)
    ]


def test_a_small_count_cannot_be_worked_out_from_totals_or_two_periods() -> None:
    # 11 high-risk cases in Tirana and 3 in Has, or 12 and 2: were the other tables exact,
    # Has = (urgency total) - (Tirana), 3 or 2. Both must give the very same CSV.
    three = cases_in("tirane", 11, "high") + cases_in("has", 3, "medium", 100)
    two = cases_in("tirane", 12, "high") + cases_in("has", 2, "medium", 100)
    export = [stats.csv_export(stats.summarise(f, {})) for f in (three, two)]
    assert export[0] == export[1]
    assert "cases,has,2026-03-02,<5" in export[0].splitlines()
    # A longer period holding one case more: the two exports cannot tell that case apart.
    shorter = cases_in("tirane", 10, "high")
    longer = shorter + cases_in("tirane", 1, "high", 50)
    assert stats.csv_export(stats.summarise(shorter, {})) == stats.csv_export(
        stats.summarise(longer, {})
    )


def test_acceptance_percentiles_and_weeks() -> None:
    assert stats.percentile([], 50) is None
    assert stats.percentile([5, 1, 3, 2, 4], 50) == 3
    assert stats.percentile(list(range(1, 11)), 90) == 9
    summary = stats.summarise(figures("durres", 10, accepted_after=2), {})
    assert summary.p50 is not None and summary.p90 is not None and summary.p50 <= summary.p90
    assert summary.weeks == [T0.date(), T0.date() + timedelta(days=7)]  # days 0..9: two weeks
    assert summary.escalated_cases == 1 and summary.total == 10
    # Week boundaries are local: Sunday 23:30 UTC is already Monday in Tirana.
    assert stats.week_of(datetime(2026, 3, 1, 23, 30, tzinfo=UTC)) == T0.date()


def test_charts_are_plain_svg_without_inline_styles() -> None:
    svg = bar_chart([("high", 3), ("standard", 7)], title="Risk")
    assert svg.startswith("<svg") and svg.count('class="bar ') == 2 and "style=" not in svg
    summary = stats.summarise(figures("tirane", 7) + figures("has", 2), {})
    weekly = weekly_chart(
        summary.weeks,
        summary.per_week,
        summary.municipalities,
        {"has": "Has"},
        title="W",
        other="o",
    )
    assert "<title>2026-03-02 Has: " in weekly and "style=" not in weekly


@pytest.fixture(scope="module")
def library() -> FlowLibrary:
    flows = FlowLibrary(ROOT / "bot" / "flows")
    assert flows.reload().ok
    return flows


def test_every_shipped_flow_draws_and_passes_the_editors_check(library: FlowLibrary) -> None:
    catalogs = Catalogs()
    for name, source in library.sources.items():
        flow = library.current[name]
        svg = render_svg(flow)
        assert svg.count('<g class="node') == len(flow.nodes), name
        assert sum(len(row) for row in layers(flow)) == len(flow.nodes)
        checked = check_source(name, source, library, catalogs)
        assert checked.ok, (name, checked.problems)
        assert all(row["sq"] >= 1 and row["en"] >= 1 for row in segment_table(flow, catalogs))


def test_the_editor_names_line_and_problem_and_lints(library: FlowLibrary) -> None:
    catalogs = Catalogs()
    source = library.sources["quick_exit"]
    broken = check_source(
        "quick_exit", source.replace("end: exit", "next: nowhere"), library, catalogs
    )
    assert (
        not broken.ok and broken.problems[0].line == 6 and "nowhere" in broken.problems[0].message
    )
    lonely = source + "  lonely:\n    do:\n      - say: no.such.text\n    end: exit\n"
    linted = check_source("quick_exit", lonely, library, catalogs)
    messages = [w.message for w in linted.warnings]
    assert linted.ok and "node lonely is never reached" in messages
    assert "node lonely: no.such.text has no sq text" in messages


def test_placeholders_must_match_the_shipped_message() -> None:
    shipped = {"sq": "Rasti {ref}", "en": "Case {ref}"}
    assert placeholders_problem({"sq": "Rasti {ref} u hap", "en": "Case {ref}"}, shipped) == []
    assert placeholders_problem({"sq": "Rasti", "en": "Case {ref}"}, shipped)
    assert placeholders_problem({"sq": "Rasti {ref", "en": "Case {ref}"}, shipped)
    assert placeholders_problem({"sq": "Rasti {ref.x}", "en": "Case {ref}"}, shipped)


def test_every_admin_ui_text_exists_in_albanian() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")
    for path in [*(ROOT / "bot/web/templates").glob("*.html"), *(ROOT / "bot/web").glob("*.py")]:
        for match in pattern.finditer(path.read_text()):
            used.add(match.group(1) if match.group(1) is not None else match.group(2))
    keys = {*CASE_STATUSES, *URGENCIES, *RISK_LEVELS, "admin", "coordinator", "web", "phone"}
    albanian = texts("sq")
    assert not sorted((used | keys) - set(albanian))
    assert not sorted(keys - set(texts("en")))  # keys get English words, not ids
    assert translator("en")("Sign in") == "Sign in" and translator("sq")("Sign in") == "Hyr"
