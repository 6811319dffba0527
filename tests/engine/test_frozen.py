"""quick_init: frozen dataclasses built as the dataclass's own __init__ builds them."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.engine import events as ev
from bot.engine.env import ContactView, Env
from bot.engine.frozen import quick_init
from bot.engine.resumes import MsgResume
from bot.engine.routers import Match
from bot.engine.understand import Hit
from bot.handlers.registry import Committed
from bot.messages import Button, Inbound, Outbound, SendResult
from bot.rendering import Rendered
from bot.store import records

QUICK = [
    Env,
    ContactView,
    ev.OptionOut,
    ev.MsgCreated,
    ev.WaitStarted,
    ev.ResultSaved,
    MsgResume,
    Inbound,
    Button,
    Outbound,
    SendResult,
    Rendered,
    Committed,
    records.Contact,
    records.Arrival,
    records.Standing,
    records.StoredSession,
    records.OutboxItem,
    records.Case,
    Hit,
    Match,
]


def plain_twin(cls: type) -> Any:
    """The same class as dataclasses alone make it (its own generated __init__)."""
    namespace = {
        name: value
        for name, value in cls.__dict__.items()
        if name not in {"__init__", "__slots__", "__dict__", "__weakref__"}
        and not isinstance(value, type(ev.MsgCreated.text))  # slots' member descriptors
        and name not in {f.name for f in dataclasses.fields(cls)}
    }
    namespace["__annotations__"] = dict(inspect.get_annotations(cls))
    for f in dataclasses.fields(cls):
        if f.name not in namespace["__annotations__"]:
            continue  # a base's field: the base has it
        namespace[f.name] = field(
            default=f.default,
            default_factory=f.default_factory,
            kw_only=f.kw_only,
            compare=f.compare,
            repr=f.repr,
            hash=f.hash,
        )
    for name in ("__setattr__", "__delattr__", "__hash__", "__eq__", "__repr__", "__match_args__"):
        namespace.pop(name, None)
    plain = type(cls.__name__, cls.__bases__, namespace)
    return dataclass(frozen=True, slots=True)(plain)


@dataclass(frozen=True, slots=True)
class Base:
    """A frozen base with a field of its own (events have none: this one checks bases' slots)."""

    a: int


@quick_init
@dataclass(frozen=True, slots=True)
class Sample(Base):
    """Every kind of parameter: plain, default, factory, keyword-only."""

    b: str
    c: list[int] = field(default_factory=list)
    d: str | None = None
    e: dict[str, int] = field(default_factory=dict, kw_only=True)
    f: int = field(default=7, kw_only=True)


@quick_init
@dataclass(frozen=True, slots=True)
class Small(Base):
    """Few fields (stored by the slots' setters), one a base's, a factory, keyword-only."""

    b: list[int] = field(default_factory=list)
    c: str = field(default="c", kw_only=True)


@dataclass(frozen=True, slots=True)
class SmallSub(Small):
    """A subclass of a small one: its own dataclass __init__, as before."""

    g: int = 0


@dataclass(frozen=True, slots=True)
class SampleSub(Sample):
    """A subclass: its own dataclass __init__, as before."""

    g: int = 0


def arguments(cls: type) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Calls of `cls`: required fields only, all by position, all by keyword, odd values."""
    params = list(inspect.signature(cls).parameters.values())
    values: list[Any] = [
        1,
        "x",
        None,
        (),
        [1, 2],
        {"k": "v"},
        datetime(2026, 1, 2, tzinfo=UTC),
        True,
        0,
        "",
    ]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    required = {
        p.name: values[i % len(values)] for i, p in enumerate(params) if p.default is p.empty
    }
    calls.append(((), dict(required)))
    for shift in range(3):
        every = {p.name: values[(i + shift) % len(values)] for i, p in enumerate(params)}
        calls.append(((), every))
        positional = tuple(every[p.name] for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
        rest = {p.name: every[p.name] for p in params if p.kind is p.KEYWORD_ONLY}
        calls.append((positional, rest))
    return calls


@pytest.mark.parametrize("cls", [*QUICK, Sample, Small], ids=lambda c: c.__name__)
def test_built_as_the_dataclass_builds_it(cls: type) -> None:
    twin = plain_twin(cls)
    assert inspect.signature(cls) == inspect.signature(twin)
    for args, kwargs in arguments(cls):
        quick, plain = cls(*args, **kwargs), twin(*args, **kwargs)
        assert type(quick) is cls
        names = [f.name for f in dataclasses.fields(cls)]
        assert [getattr(quick, n) for n in names] == [getattr(plain, n) for n in names]
        assert repr(quick) == repr(plain)
        assert quick == cls(*args, **kwargs)
        assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
        try:
            assert hash(quick) == hash(plain)
        except TypeError:  # unhashable values (a dict field): so is the plain one
            with pytest.raises(TypeError):
                hash(plain)
        for name in names:
            with pytest.raises(FrozenInstanceError):
                setattr(quick, name, 1)
            with pytest.raises(FrozenInstanceError):
                delattr(quick, name)
        assert copy.copy(quick) == quick
        assert copy.deepcopy(quick) == quick
        if names:
            first = names[0]
            changed = dataclasses.replace(quick, **{first: getattr(quick, first)})
            assert changed == quick and type(changed) is cls


def test_factories_give_each_instance_its_own() -> None:
    one, two = Sample(1, "b"), Sample(1, "b")
    assert one.c == [] and one.c is not two.c and one.e is not two.e
    assert Sample(1, "b", [3], e={"x": 1}, f=2) == Sample(a=1, b="b", c=[3], e={"x": 1}, f=2)
    assert dataclasses.fields(Sample)[0].name == "a"


def test_unknown_or_missing_arguments_are_refused_as_before() -> None:
    with pytest.raises(TypeError):
        Sample(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample(1, "b", g=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample(1, "b", [], None, {})  # type: ignore[misc]


def test_a_subclass_is_built_by_its_own_init() -> None:
    sub = SampleSub(1, "b", g=4)
    assert type(sub) is SampleSub and sub.g == 4 and sub.a == 1
    with pytest.raises(FrozenInstanceError):
        sub.a = 2  # type: ignore[misc]


def test_pickles_and_compares_with_the_plain_one_by_fields() -> None:
    button = Button("Po", "1")
    assert pickle.loads(pickle.dumps(button)) == button  # noqa: S301 - our own bytes
    assert hash(Button("Po", "1")) == hash(button)
    assert Button("Po", "1") != Button("Po", "2")


def test_a_factory_that_raises_leaves_no_half_built_object_behind() -> None:
    def boom() -> list[int]:
        raise RuntimeError("boom")

    @quick_init
    @dataclass(frozen=True, slots=True)
    class Failing:
        a: int
        b: list[int] = field(default_factory=boom)

    with pytest.raises(RuntimeError):
        Failing(1)
    assert Failing(1, []).b == []


def test_only_for_frozen_slotted_dataclasses_without_post_init() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        b: InitVar[int] = 0

    class NotADataclass:
        pass

    for cls in (Mutable, NoSlots, PostInit, WithInitVar, NotADataclass):
        with pytest.raises(TypeError):
            quick_init(cls)
