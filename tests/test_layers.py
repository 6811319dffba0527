"""The layers of bot/: pyproject.toml's import-linter contracts hold, and each one can fail.

Beside tests/engine/test_purity.py (the engine imports the standard library only); `make test`
runs the same contracts with `lint-imports`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import api  # noqa: F401  (configures import-linter, as its CLI does)
from importlinter.application.use_cases import read_user_options
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.independence import IndependenceContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.protected import ProtectedContract
from importlinter.domain.contract import Contract

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_TYPES: dict[str, type[Contract]] = {
    cls.type_name: cls  # type: ignore[attr-defined]
    for cls in (
        AcyclicSiblingsContract,
        ForbiddenContract,
        IndependenceContract,
        LayersContract,
        ProtectedContract,
    )
}
# For each contract, one import that breaks it: (importer, imported). An importer that does not
# exist is a new module, added to the graph only, never to the disk (tests run in parallel).
# A new contract needs its probe here, or test_every_contract_has_a_probe fails.
VIOLATIONS = {
    "channels": ("bot.channels.layers_probe", "bot.store.db"),
    "web": ("bot.web.layers_probe", "bot.app"),
    "app": ("bot.referral.layers_probe", "bot.app"),
    "store": ("bot.store.layers_probe", "bot.referral.alerts"),
    "referral": ("bot.referral.layers_probe", "bot.followups.plans"),
    "handlers": ("bot.handlers.layers_probe", "bot.referral.service"),
    "outbox": ("bot.outbox", "bot.referral.alerts"),
    "engine": ("bot.engine.layers_probe", "bot.messages"),
    # bot.web imports the store already: the store importing the web closes a cycle.
    "acyclic": ("bot.store.layers_probe", "bot.web.kit"),
}


@pytest.fixture(scope="module")
def options() -> Any:
    """The import-linter configuration of pyproject.toml."""
    return read_user_options(str(ROOT / "pyproject.toml"))


@pytest.fixture(scope="module")
def graph(options: Any) -> grimp.ImportGraph:
    """bot's import graph as the code is now (imports inside functions and TYPE_CHECKING count)."""
    return grimp.build_graph(*options.session_options["root_packages"], cache_dir=None)


def contracts(options: Any) -> dict[str, Contract]:
    """Every contract of the configuration, by id."""
    found = {}
    for raw in options.contracts_options:
        cls = CONTRACT_TYPES[raw["type"]]
        found[raw["id"]] = cls(
            name=raw["name"], session_options=options.session_options, contract_options=raw
        )
    return found


def kept(contract: Contract, graph: grimp.ImportGraph) -> bool:
    """Whether `contract` holds on `graph` (checked on a copy: ignore_imports edit the graph)."""
    return contract.check(copy.deepcopy(graph), verbose=False).kept


def broken_imports(contract: Contract, graph: grimp.ImportGraph) -> Any:
    """What import-linter reports for a broken contract, for the failure message."""
    return contract.check(copy.deepcopy(graph), verbose=False).metadata


def test_the_code_keeps_every_contract(options: Any, graph: grimp.ImportGraph) -> None:
    found = contracts(options)
    assert set(found) >= {"channels", "web", "store", "referral", "engine", "acyclic"}
    broken = {cid: broken_imports(c, graph) for cid, c in found.items() if not kept(c, graph)}
    assert broken == {}


def test_every_contract_has_a_probe(options: Any) -> None:
    assert set(contracts(options)) == set(VIOLATIONS)


@pytest.mark.parametrize("contract_id", sorted(VIOLATIONS))
def test_a_module_breaking_the_contract_is_caught(
    options: Any, graph: grimp.ImportGraph, contract_id: str
) -> None:
    contract = contracts(options)[contract_id]
    importer, imported = VIOLATIONS[contract_id]
    probed = copy.deepcopy(graph)
    if importer not in probed.modules:
        probed.add_module(importer)
    probed.add_import(
        importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}"
    )
    assert kept(contract, graph)
    assert not kept(contract, probed)


def test_an_indirect_import_breaks_a_contract_too(options: Any, graph: grimp.ImportGraph) -> None:
    # channels -> messages is allowed; messages -> store would bring the store to the channels.
    assert graph.direct_import_exists(importer="bot.channels.base", imported="bot.messages")
    probed = copy.deepcopy(graph)
    probed.add_import(importer="bot.messages", imported="bot.store.db")
    assert not kept(contracts(options)["channels"], probed)


def test_the_engine_contract_names_everything_outside_the_engine(
    options: Any, graph: grimp.ImportGraph
) -> None:
    # A new module of bot/ must be added to the engine's forbidden list (pyproject.toml).
    engine = next(c for c in options.contracts_options if c["id"] == "engine")
    siblings = graph.find_children("bot") - {"bot.engine"}
    assert set(engine["forbidden_modules"]) == siblings
