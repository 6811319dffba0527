"""The first message's own readings: where she says she is (routers.read_own_place) and
whether she asks something (routers.asks), with the shipped lexicon and municipalities."""

from __future__ import annotations

import pytest

from bot.engine import understand as u
from bot.engine.routers import asks, read_own_place
from tests.flows.dialogue import NOW, _pipeline

ENV = _pipeline.env(NOW)
LEXICON = ENV.keywords.lexicon


@pytest.mark.parametrize(
    ("message", "slug"),
    [
        ("më rreh burri, jam në Ferizaj", "ferizaj"),
        ("me rrah burri jam ne ferizaj", "ferizaj"),
        ("im in Gjakova, my husband hits me", "gjakove"),
        ("I'm in Gjakova, my husband hits me", "gjakove"),
        ("nga Shkodra jam, burri me kercenon", "shkoder"),
        ("jom n'Ferizaj, burri m rreh", "ferizaj"),
        ("n ferizaj jom, m ka rrah", "ferizaj"),
        ("I live in Durres and my husband beats me", "durres"),
        ("jetoj ne Fushe Kosove", "fushe-kosove"),
        ("jam nga Korca po tani jam ne Tirane", "tirane"),
        ("my husband hits me. I am from Prizren", "prizren"),
        ("Jam në Mitrovicë të Veriut", "mitrovice-e-veriut"),
        ("my sister lives in Fier", None),
        ("ka ikur në Tiranë", None),
        ("burri ka ikur ne Tirane jam vetem me femijet", None),
        ("motra ime jeton ne Fier, burri e rreh", None),
        ("nuk jam ne Tirane", None),
        ("s'jam më në Tiranë", None),
        ("jam ne Tirane por jetoj ne Durres", None),
        ("if I am in Tirana tomorrow", None),
        ("jam ne rrezik", None),
        ("jam ne shtepi", None),
        ("jam ne pune", None),
        ("i am in danger", None),
        ("i am in the kitchen", None),
        ("we are in the car", None),
        ("i live in fear", None),
        ("jam ne spital", None),
        ("jam ne rruge", None),
        ("jam ne makine me femijet", None),
        ("jam nga fshati", None),
        ("jam ne dhome", None),
        ("jam ne Itali", None),
        ("Ferizaj", None),
        ("burri im eshte ne Tirane, une jam ne Durres", "durres"),
        ("me rreh burri ne Tirane", None),
    ],
)
def test_only_a_place_her_own_words_frame_is_hers(message, slug):
    assert read_own_place(message, ENV.places, LEXICON) == slug


@pytest.mark.parametrize(
    ("message", "asking"),
    [
        ("si te marr urdher mbrojtje", True),
        ("si të marr urdhër mbrojtje?", True),
        ("qysh me marr urdhen e mbrojtjes", True),
        ("how do I get a protection order", True),
        ("dua informacion per urdhrin e mbrojtjes", True),
        ("I want information about protection orders", True),
        ("e shkeli urdhrin e mbrojtjes", False),
        ("kam urdher mbrojtje por ai erdhi ne shtepi", False),
    ],
)
def test_a_question_is_read_from_its_words_or_its_question_mark(message, asking):
    assert asks(message, u.analyse(message, LEXICON), LEXICON) is asking
