"""Routing tables: who is paged, in what order, when each step escalates, fairly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.referral.routing import Candidate, Step, fair_order, next_step, plan

NOW = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
ACK = timedelta(minutes=5)
KNOWN = {"tirane", "shkoder", "has"}


def c(id_: int, place: str, role: str = "coordinator", on: bool = True, n: int = 0, last=None):
    return Candidate(id_, place, role, on, n, last)


TIRANE_TEAM = [
    c(1, "tirane"),
    c(2, "tirane"),
    c(3, "tirane", "backup"),
    c(4, "tirane", on=False),  # off duty: never paged while somebody is on duty
    c(5, "shkoder"),
    c(6, "national"),
    c(7, "national"),
    c(8, "national", "backup"),
]


def steps_of(steps: list[Step]) -> list[tuple[int, tuple[int, ...], str, timedelta]]:
    return [(s.number, s.coordinators, s.reason, s.at - NOW) for s in steps]


@pytest.mark.parametrize(
    ("municipality", "candidates", "expected"),
    [
        (  # one local first, then the other local and the backup, then national, then the rest
            "tirane",
            TIRANE_TEAM,
            [
                (1, (1,), "local", timedelta(0)),
                (2, (2, 3), "local_others", ACK),
                (3, (6,), "national", 2 * ACK),
                (4, (7, 8), "national_others", 3 * ACK),
            ],
        ),
        (  # only a backup on duty locally: it is the first step
            "tirane",
            [c(3, "tirane", "backup"), c(6, "national")],
            [(1, (3,), "local_others", timedelta(0)), (2, (6,), "national", ACK)],
        ),
        (  # nobody local: national first
            "has",
            TIRANE_TEAM,
            [(1, (6,), "national", timedelta(0)), (2, (7, 8), "national_others", ACK)],
        ),
        (  # unknown municipality: national first
            None,
            TIRANE_TEAM,
            [(1, (6,), "national", timedelta(0)), (2, (7, 8), "national_others", ACK)],
        ),
        (  # a slug nobody knows is unknown too (not matched against anyone's "municipality")
            "atlantis",
            [c(1, "atlantis"), c(6, "national")],
            [(1, (6,), "national", timedelta(0))],
        ),
        (  # nobody on duty anywhere: everybody who could help, at once
            "tirane",
            [c(1, "tirane", on=False), c(6, "national", on=False), c(5, "shkoder", on=False)],
            [(1, (1, 6), "nobody_on_duty", timedelta(0))],
        ),
        (  # nobody local or national on duty, but somebody elsewhere is
            None,
            [c(5, "shkoder"), c(1, "tirane"), c(6, "national", on=False)],
            [(1, (1, 5), "anyone_on_duty", timedelta(0))],
        ),
        (  # nobody on duty, nobody local or national: still everybody
            "tirane",
            [c(5, "shkoder", on=False)],
            [(1, (5,), "nobody_on_duty", timedelta(0))],
        ),
        ("tirane", [], []),
    ],
)
def test_urgent_plans(municipality, candidates, expected):
    known = KNOWN | {"atlantis"} if municipality != "atlantis" else KNOWN
    got = plan(municipality, "urgent", NOW, candidates, ACK, known_municipalities=known)
    assert steps_of(got) == expected


def test_fair_spread_prefers_fewest_pages_then_longest_rest_then_id():
    earlier, later = NOW - timedelta(hours=5), NOW - timedelta(hours=1)
    team = [
        c(1, "tirane", n=3, last=later),
        c(2, "tirane", n=1, last=later),
        c(3, "tirane", n=1, last=earlier),
        c(4, "tirane", n=1, last=earlier),
        c(5, "tirane", n=1, last=None),  # never paged: rested longest of all
    ]
    assert [x.id for x in fair_order(team)] == [5, 3, 4, 2, 1]
    assert plan("tirane", "urgent", NOW, team, ACK)[0].coordinators == (5,)


def test_fair_spread_over_a_night_pages_everyone_in_turn():
    """Replaying a night of cases: nobody is paged twice while a colleague has not been paged."""
    pages: dict[int, list[datetime]] = {1: [], 2: [], 3: []}
    for hour in range(9):
        at = NOW + timedelta(hours=hour)
        team = [c(i, "tirane", n=len(p), last=(p[-1] if p else None)) for i, p in pages.items()]
        first = plan("tirane", "urgent", at, team, ACK)[0].coordinators[0]
        pages[first].append(at)
    assert [len(p) for p in pages.values()] == [3, 3, 3]
    order = [min(pages, key=lambda i: pages[i][k]) for k in range(3)]
    assert order == [1, 1, 1]  # ties broken by id, the same each round


def test_not_urgent_goes_to_a_digest_of_the_municipalitys_coordinators():
    got = plan("tirane", "normal", NOW, TIRANE_TEAM, ACK)
    assert steps_of(got) == [(1, (1, 2, 4), "digest", timedelta(0))]  # duty does not matter
    assert got[0].digest
    national = plan(None, "normal", NOW, TIRANE_TEAM, ACK)
    assert national[0].coordinators == (6, 7)


def test_next_step_skips_people_already_paged():
    steps = plan("tirane", "urgent", NOW, TIRANE_TEAM, ACK, known_municipalities=KNOWN)
    assert next_step(steps, set()).coordinators == (1,)
    assert next_step(steps, {1}).coordinators == (2, 3)
    assert next_step(steps, {1, 2}).coordinators == (3,)
    assert next_step(steps, {1, 2, 3, 6, 7, 8}) is None


def test_routing_is_pure():
    import ast
    from pathlib import Path

    import bot.referral.routing as routing

    tree = ast.parse(Path(routing.__file__).read_text())
    imported = {
        (n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in (n.names if isinstance(n, ast.Import) else [n])
    }
    assert imported <= {"__future__", "collections", "dataclasses", "datetime", "zoneinfo"}
