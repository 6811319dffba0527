"""Frozen dataclasses built nearly at the cost of mutable ones (dozens are built a message)."""

from __future__ import annotations

import inspect
from dataclasses import fields
from types import MemberDescriptorType
from typing import Any, TypeVar, cast

T = TypeVar("T")


# Callgrind, a frozen dataclass built (this Python 3.11): 2 fields 4,321 instructions with the
# twin, 3,250 with the slots' setters; 4 fields 4,601 and 4,591; 13 fields 5,873 and 10,755.
SETTERS_MAX = 3


def _slot_setters(cls: type, names: list[str]) -> dict[str, Any] | None:
    """Each field's slot descriptor's `__set__`, as the class's attribute look-up finds it;
    None when one is not a slot of the class or a base (then the twin builds it)."""
    setters: dict[str, Any] = {}
    for name in names:
        found = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if not isinstance(found, MemberDescriptorType):
            return None
        setters[name] = found.__set__
    return setters


def quick_init(cls: type[T]) -> type[T]:
    """Give a frozen, slotted dataclass an `__init__` that stores its fields as plain attributes.

    Its instances are what the dataclass's own `__init__` makes (same class, slots, eq, hash,
    repr, and setting or deleting a field still raises FrozenInstanceError); the signature is
    the same. Why: dataclasses' frozen `__init__` sets each field with `object.__setattr__`, a
    call that costs ~1,370 instructions on this Python 3.11 (callgrind: a 13-field dataclass
    20,005 instructions to build, 5,849 this way; 2 fields 4,857 against 4,333). Here the
    instance becomes for the duration of `__init__` a twin class with the same slots and
    plain attribute stores (~140 instructions a field), then its own class again: two class
    assignments instead of one call a field; with SETTERS_MAX fields or fewer, each field is
    stored by its slot descriptor's `__set__` instead. Attribute reads do not change.
    Only for classes whose `__init__` dataclasses generated without `__post_init__` or InitVar;
    an instance of a subclass is built by the dataclass's own `__init__`, as before.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not params.init or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init is for frozen, slotted dataclasses")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not run __post_init__")
    original = cls.__init__
    signature = inspect.signature(original)
    parameters = list(signature.parameters.values())[1:]  # without self
    init_fields = {f.name: f for f in fields(cast(Any, cls)) if f.init}
    if [p.name for p in parameters] != list(init_fields):
        raise TypeError(f"{cls.__name__}: quick_init takes no InitVar")
    # Up to SETTERS_MAX fields, each is stored by its slot's own descriptor (what
    # object.__setattr__ finds and calls, without the look-up): cheaper than the twin's two
    # class assignments there.
    setters = _slot_setters(cls, list(init_fields)) if len(init_fields) <= SETTERS_MAX else None
    # Same layout (same bases, same slots), so an instance may change to it and back; object's
    # own __setattr__ and __delattr__ make its attribute stores plain ones.
    twin = type(
        cls.__name__,
        cls.__bases__,
        {
            "__slots__": cls.__dict__["__slots__"],
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": cls.__module__,
            "__qualname__": f"{cls.__qualname__}.<building>",
        },
    )
    space: dict[str, Any] = {
        "__quick_cls": cls,
        "__quick_twin": twin,
        "__quick_set": object.__setattr__,
        "__quick_original": original,
    }
    args, stores, keyword_only = [], [], False
    for p in parameters:
        if p.kind is p.KEYWORD_ONLY and not keyword_only:
            args.append("*")
            keyword_only = True
        if p.default is p.empty:
            args.append(p.name)
        else:
            # The dataclass's own default: a value, or its marker of a default factory.
            space[f"__quick_d_{p.name}"] = p.default
            args.append(f"{p.name}=__quick_d_{p.name}")
        factory = init_fields[p.name].default_factory
        if callable(factory):
            space[f"__quick_f_{p.name}"] = factory
            value = f"__quick_f_{p.name}() if {p.name} is __quick_d_{p.name} else {p.name}"
        else:
            value = p.name
        if setters is not None:
            space[f"__quick_s_{p.name}"] = setters[p.name]
            stores.append(f"__quick_s_{p.name}(self, {value})")
        else:
            stores.append(f"self.{p.name} = {value}")
    passed = ", ".join(
        p.name if p.kind is p.POSITIONAL_OR_KEYWORD else f"{p.name}={p.name}" for p in parameters
    )
    if setters is not None:
        body = "\n".join(f"        {store}" for store in stores) or "        pass"
        built = f"{body}\n"
    else:
        body = "\n".join(f"            {store}" for store in stores) or "            pass"
        built = (
            "        __quick_set(self, '__class__', __quick_twin)\n"
            "        try:\n"
            f"{body}\n"
            "        finally:\n"
            "            self.__class__ = __quick_cls\n"
        )
    source = (
        f"def __init__(self, {', '.join(args)}):\n"
        "    if type(self) is __quick_cls:\n"
        f"{built}"
        "    else:\n"
        f"        __quick_original(self, {passed})\n"
    )
    exec(source, space)  # noqa: S102 - source made above from the dataclass's own field names
    init = space["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(original.__annotations__)
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning to a method
    return cls
