"""tools/window_floor.py: P(a story starts with these tokens), summed over every way the grammar writes them."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from gpt_from_scratch.stories import story_surprisals
from gpt_from_scratch.train import StoryTokenizer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def setup():
    sys.path.insert(0, str(ROOT / "tools"))  # window_floor imports train_story_model
    spec = importlib.util.spec_from_file_location("window_floor", ROOT / "tools" / "window_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stories, nats = story_surprisals(200, seed=0)
    return module.prefix_probability, StoryTokenizer.from_texts(stories), stories, nats


def test_whole_stories_get_the_probability_the_generator_records(setup):
    prefix_probability, tokenizer, stories, nats = setup
    for story, n in zip(stories[:3], nats[:3]):
        p = prefix_probability(tokenizer, tokenizer.encode(story) + [tokenizer.eot_id])
        assert math.isclose(p, math.exp(-n), rel_tol=1e-9)


def test_prefix_probabilities_obey_the_chain_rule(setup):
    prefix_probability, tokenizer, stories, _ = setup
    firsts = {tokenizer.encode(s)[0] for s in stories}
    assert math.fsum(prefix_probability(tokenizer, [t]) for t in firsts) == pytest.approx(1, abs=1e-12)
    ids = tokenizer.encode(stories[7])[:3]  # P(prefix) = sum over every next token of P(prefix + token)
    total = math.fsum(prefix_probability(tokenizer, ids + [t]) for t in range(tokenizer.n_vocab))
    assert total == pytest.approx(prefix_probability(tokenizer, ids), rel=1e-12)
    assert prefix_probability(tokenizer, ids + [tokenizer.eot_id]) == 0
