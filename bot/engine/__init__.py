"""The pure conversation engine: flows as data, sessions as data, events out; stdlib only."""

from bot.engine.definition import Action, Flow, Keyword, KeywordSet, Node, Option, Route, Wait
from bot.engine.env import ContactView, Env, FlowSource, Place
from bot.engine.resumes import ExpireResume, MsgResume, Resume, StartResume, TimeoutResume
from bot.engine.runner import EngineError, Outcome, resume
from bot.engine.session import Frame, Session

__all__ = [
    "Action",
    "ContactView",
    "EngineError",
    "Env",
    "ExpireResume",
    "Flow",
    "FlowSource",
    "Frame",
    "Keyword",
    "KeywordSet",
    "MsgResume",
    "Node",
    "Option",
    "Outcome",
    "Place",
    "Resume",
    "Route",
    "Session",
    "StartResume",
    "TimeoutResume",
    "Wait",
    "resume",
]
