"""Flow actions as a registry: each kind's YAML form, its validation, its execution, its docs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from bot.engine import events as ev
from bot.engine.definition import FOLLOWUP_OUTCOMES, LANGUAGES, SERVICES
from bot.engine.session import Session

# A node of the YAML tree: opaque here, as the engine must not import yaml (test_purity.py).
N = TypeVar("N")
N_contra = TypeVar("N_contra", contravariant=True)


class Source(Protocol[N_contra]):
    """The loader's checks an action parses with; each failure names file and line."""

    def fail(self, node: N_contra, message: str) -> None: ...

    def value(self, node: N_contra) -> Any: ...

    def string(self, node: N_contra, what: str) -> str | None: ...

    def name(self, node: N_contra, what: str) -> str | None: ...

    def msgid(self, node: N_contra, what: str) -> str | None: ...

    def ref_ok(self, node: N_contra, value: Any) -> None: ...

    def params(self, node: N_contra | None, node_id: str) -> dict[str, Any]: ...


class Context(Protocol):
    """What an action runs with: the engine's run of one resume (bot/engine/runner.py)."""

    events: list[ev.Event]

    def say(self, msgid: str, params: Mapping[str, Any] | None = None) -> None: ...

    def resolve(self, value: Any) -> Any: ...

    def set_field(self, name: str, value: Any) -> None: ...

    def set_language(self, language: str) -> None: ...


class ActionKind:
    """One kind of action: documents its YAML form, parses it, runs it."""

    name: ClassVar[str]
    form: ClassVar[str]  # the YAML form, markdown, for docs/flows.md
    meaning: ClassVar[str]
    emits: ClassVar[tuple[type[ev.Event], ...]] = ()  # the event(s) it reports when it runs
    note: ClassVar[str] = ""  # shown after (or, with no event, instead of) the events
    example: ClassVar[str]  # one item of a `do:` list, as YAML; the docs test runs it
    extras: ClassVar[frozenset[str]] = frozenset()  # keys allowed beside the action's own

    def parse(
        self, src: Source[N], node: N, extras: Mapping[str, N], node_id: str
    ) -> dict[str, Any] | None:
        """The action's arguments from its YAML value, or None after src.fail(...)."""
        raise NotImplementedError

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Do the action on the session and report its events through ctx."""
        raise NotImplementedError

    def message_ids(self, args: Mapping[str, Any]) -> tuple[str, ...]:
        """The message ids the action sends."""
        return ()


class MappingAction(ActionKind):
    """An action written `kind: {key: value, ...}` (or `kind: {}`)."""

    required: ClassVar[tuple[str, ...]] = ()

    def parse(
        self, src: Source[N], node: N, extras: Mapping[str, N], node_id: str
    ) -> dict[str, Any] | None:
        """The mapping, its references checked, required keys present, then `check`."""
        raw = src.value(node)
        if raw is not None and not isinstance(raw, dict):
            src.fail(node, f"{self.name}: expected a mapping like {{name: value}}")
            return None
        args: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for value in args.values():
            src.ref_ok(node, value)
        for key in self.required:
            if key not in args:
                src.fail(node, f"{self.name}: missing {key!r}")
                return None
        problem = self.check(args)
        if problem is not None:
            src.fail(node, problem)
            return None
        return args

    def check(self, args: Mapping[str, Any]) -> str | None:
        """What is wrong with well-formed arguments, if anything."""
        return None


REGISTRY: dict[str, ActionKind] = {}

K = TypeVar("K", bound=type[ActionKind])


def register(cls: K) -> K:
    """Add an action kind to the registry (its order is the order of the docs)."""
    REGISTRY[cls.name] = cls()
    return cls


# -- shared by several actions -----------------------------------------------------------------


def raise_urgency(ctx: Context, s: Session, reason: str) -> None:
    """Mark the session urgent once; an open case hears of it."""
    if not s.urgent:
        s.urgent = True
        ctx.events.append(ev.UrgencyRaised(reason))
        if s.case_open:
            ctx.events.append(ev.CaseUpdated({"urgency": "urgent"}))


def open_case(ctx: Context, s: Session) -> None:
    """Open the conversation's case once, with all that is known so far."""
    if s.case_open:
        return
    s.case_open = True
    info = dict(s.case_info)
    info.setdefault("municipality", s.fields.get("municipality"))
    info["urgency"] = "urgent" if s.urgent else "normal"
    if s.risk:
        info.update(risk_level=s.risk["level"], risk_score=s.risk["score"])
        info["flags"] = list(s.risk["flags"])
    info["consent"] = dict(s.consent)
    ctx.events.append(ev.CaseOpened(info))


# -- the actions -------------------------------------------------------------------------------


@register
class Say(ActionKind):
    """Send a message."""

    name = "say"
    form = "`say: msg.id` + optional `params: {name: value}`"
    meaning = "send a message"
    emits = (ev.MsgCreated,)
    example = 'say: fc.numbers\nparams: {emergency: "@numbers.emergency"}'
    extras = frozenset({"params"})

    def parse(
        self, src: Source[N], node: N, extras: Mapping[str, N], node_id: str
    ) -> dict[str, Any] | None:
        """A message id, and params whose references are checked."""
        text = src.msgid(node, "say")
        params = src.params(extras["params"], node_id) if "params" in extras else {}
        return {"text": text, "params": params} if text else None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Send the message in the session's language."""
        ctx.say(str(args["text"]), args.get("params") or {})

    def message_ids(self, args: Mapping[str, Any]) -> tuple[str, ...]:
        """The one message it sends."""
        return (str(args["text"]),)


@register
class SetResult(MappingAction):
    """Save a result."""

    name = "set_result"
    form = "`set_result: {name: x, value: v}`"
    meaning = "save a result"
    emits = (ev.ResultSaved,)
    example = "set_result: {name: role, value: survivor}"
    required = ("name", "value")

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Save the (resolved) value under the name."""
        value = ctx.resolve(args.get("value"))
        s.results[str(args["name"])] = value
        ctx.events.append(ev.ResultSaved(str(args["name"]), value, "set"))


@register
class SetField(MappingAction):
    """Save a contact field."""

    name = "set_field"
    form = "`set_field: {name: x, value: v}`"
    meaning = "save a contact field"
    emits = (ev.FieldChanged,)
    example = 'set_field: {name: municipality, value: "@results.municipality"}'
    required = ("name", "value")

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Save the (resolved) value on the contact."""
        ctx.set_field(str(args["name"]), ctx.resolve(args.get("value")))


@register
class SetLanguage(ActionKind):
    """Switch language."""

    name = "set_language"
    form = "`set_language: sq` / `en` / `@results.language`"
    meaning = "switch language"
    emits = (ev.LanguageChanged,)
    example = "set_language: en"

    def parse(
        self, src: Source[N], node: N, extras: Mapping[str, N], node_id: str
    ) -> dict[str, Any] | None:
        """A language, or a reference to one."""
        language = src.string(node, "set_language")
        if language not in LANGUAGES and not (language or "").startswith("@"):
            src.fail(node, f"set_language: {language!r} (expected sq, en or @results.x)")
            return None
        src.ref_ok(node, language)
        return {"value": language}

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Switch when the (resolved) value is a language the helpline speaks."""
        language = str(ctx.resolve(args.get("value")))
        if language in LANGUAGES:
            ctx.set_language(language)


@register
class RaiseUrgency(MappingAction):
    """The case is urgent."""

    name = "raise_urgency"
    form = "`raise_urgency: {reason: danger_now}`"
    meaning = "the case is urgent"
    emits = (ev.UrgencyRaised,)
    example = "raise_urgency: {reason: danger_now}"

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Mark the session (and an open case) urgent."""
        raise_urgency(ctx, s, str(args.get("reason") or "flow"))


@register
class AddScore(MappingAction):
    """Add to a named score."""

    name = "add_score"
    form = "`add_score: {name: risk, points: 3}`"
    meaning = "add to a named score"
    note = "(none; shown in `risk_assessed`)"
    example = "add_score: {name: risk, points: 3}"
    required = ("points",)

    def check(self, args: Mapping[str, Any]) -> str | None:
        """Points are a whole number."""
        if not isinstance(args["points"], int):
            return "add_score: points is a whole number"
        return None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Add the points (the score is `risk` unless named)."""
        name = str(args.get("name") or "risk")
        s.scores[name] = s.scores.get(name, 0) + int(args.get("points") or 0)


@register
class AddFlag(ActionKind):
    """Note a red flag."""

    name = "add_flag"
    form = "`add_flag: strangled`"
    meaning = "note a red flag"
    note = "(kept for `risk_assessed`)"
    example = "add_flag: strangled"

    def parse(
        self, src: Source[N], node: N, extras: Mapping[str, N], node_id: str
    ) -> dict[str, Any] | None:
        """A flag's name."""
        flag = src.name(node, "add_flag")
        return {"value": flag} if flag else None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Note the flag once."""
        flag = str(args.get("value"))
        if flag not in s.flags:
            s.flags.append(flag)


@register
class AssessRisk(MappingAction):
    """Turn a score into a risk level."""

    name = "assess_risk"
    form = "`assess_risk: {score: risk, high: 10, medium: 4}`"
    meaning = (
        "level: high if score >= high, medium if >= medium, else standard; "
        "`high` also raises urgency"
    )
    emits = (ev.RiskAssessed,)
    example = "assess_risk: {score: risk, high: 10, medium: 4}"

    def check(self, args: Mapping[str, Any]) -> str | None:
        """Both thresholds whole numbers, medium not above high."""
        for key in ("high", "medium"):
            if not isinstance(args.get(key), int):
                return f"assess_risk: {key!r} threshold is a whole number"
        if args["medium"] > args["high"]:
            return "assess_risk: medium must not be above high"
        return None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Set the session's risk from the score and flags; high risk is urgent."""
        name = str(args.get("score") or "risk")
        score = s.scores.get(name, 0)
        high, medium = int(args.get("high", 10)), int(args.get("medium", 4))
        level = "high" if score >= high else "medium" if score >= medium else "standard"
        s.risk = {"level": level, "score": score, "flags": list(s.flags)}
        ctx.events.append(ev.RiskAssessed(level, score, tuple(s.flags)))
        if s.case_open:
            ctx.events.append(
                ev.CaseUpdated({"risk_level": level, "risk_score": score, "flags": list(s.flags)})
            )
        if level == "high":
            raise_urgency(ctx, s, "high_risk")


@register
class OpenCase(MappingAction):
    """Open a case for this contact."""

    name = "open_case"
    form = "`open_case: {}`"
    meaning = "open a case for this contact (once per conversation)"
    emits = (ev.CaseOpened,)
    example = "open_case: {}"

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Open the case unless it is open."""
        open_case(ctx, s)


@register
class SetCase(MappingAction):
    """Set facts on the case."""

    name = "set_case"
    form = "`set_case: {reporter: survivor}`"
    meaning = "set `reporter` (survivor/witness) or `category` on the case"
    emits = (ev.CaseUpdated,)
    note = "(when the case is open)"
    example = "set_case: {reporter: witness}"

    def check(self, args: Mapping[str, Any]) -> str | None:
        """Only the facts the case keeps."""
        unknown = set(args) - {"reporter", "category"}
        if unknown:
            return f"set_case: only reporter and category, not {unknown}"
        return None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Keep the facts for the case; tell an open case at once."""
        changes = {k: ctx.resolve(v) for k, v in args.items()}
        s.case_info.update(changes)
        if s.case_open:
            ctx.events.append(ev.CaseUpdated(changes))


@register
class RecordConsent(MappingAction):
    """Consent per kind of service."""

    name = "record_consent"
    form = "`record_consent: {service: shelter, given: true}`"
    meaning = "consent per kind of service (opens the case)"
    emits = (ev.ConsentRecorded,)
    example = "record_consent: {service: shelter, given: true}"
    required = ("service",)

    def check(self, args: Mapping[str, Any]) -> str | None:
        """A known service; given is a boolean."""
        if args["service"] not in SERVICES:
            return f"record_consent: service is one of {', '.join(SERVICES)}"
        if not isinstance(args.get("given", True), bool):
            return "record_consent: given is true or false"
        return None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Record yes or no for the service, on the (opened) case."""
        service, given = str(args["service"]), bool(args.get("given", True))
        s.consent[service] = given
        open_case(ctx, s)
        ctx.events.append(ev.ConsentRecorded(service, given))


@register
class RequestReferral(MappingAction):
    """Ask for a coordinator."""

    name = "request_referral"
    form = "`request_referral: {reason: danger_now}`"
    meaning = "ask for a coordinator (urgent if the case is urgent; opens the case)"
    emits = (ev.ReferralRequested,)
    example = "request_referral: {reason: danger_now}"

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Open the case and ask for a coordinator."""
        open_case(ctx, s)
        ctx.events.append(ev.ReferralRequested(str(args.get("reason") or "flow"), s.urgent))


@register
class StartFollowup(MappingAction):
    """Start a follow-up plan."""

    name = "start_followup"
    form = "`start_followup: {plan: protection_order}`"
    meaning = "start a follow-up plan (see below)"
    emits = (ev.FollowupStarted,)
    example = 'start_followup: {plan: protection_order, ends: "@results.order_ends"}'
    required = ("plan",)

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Report the plan with its other keys resolved."""
        params = {k: ctx.resolve(v) for k, v in args.items() if k != "plan"}
        ctx.events.append(ev.FollowupStarted(str(args["plan"]), params))


@register
class RecordFollowup(MappingAction):
    """The answer to a check-in."""

    name = "record_followup"
    form = "`record_followup: {outcome: breached}`"
    meaning = (
        "the answer to a check-in: `respected`, `breached`, `talk`, `stop`, `not_now` (orders); "
        "`done`, `progress`, `problem` (integration milestones)"
    )
    emits = (ev.FollowupAnswered,)
    example = "record_followup: {outcome: breached}"
    required = ("outcome",)

    def check(self, args: Mapping[str, Any]) -> str | None:
        """A known outcome."""
        if args["outcome"] not in FOLLOWUP_OUTCOMES:
            return f"record_followup: outcome is one of {', '.join(FOLLOWUP_OUTCOMES)}"
        return None

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Report the outcome with its other keys resolved."""
        params = {k: ctx.resolve(v) for k, v in args.items() if k != "outcome"}
        ctx.events.append(ev.FollowupAnswered(str(args["outcome"]), params))


@register
class EraseContact(MappingAction):
    """Erase this person's data."""

    name = "erase_contact"
    form = "`erase_contact: {}`"
    meaning = "erase this person's data"
    emits = (ev.ErasureRequested,)
    example = "erase_contact: {}"

    def run(self, ctx: Context, s: Session, args: Mapping[str, Any]) -> None:
        """Report the request; the pipeline erases."""
        ctx.events.append(ev.ErasureRequested())


NAMES = tuple(REGISTRY)
