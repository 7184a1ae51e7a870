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


def test_the_recorded_floor_is_what_the_tool_computes():
    """window_floor() (notebook 10's floor lines) against a recomputation of its cheaper figures; the
    tool checks itself (whole stories, first tokens) inside validation_setup."""
    import json

    from gpt_from_scratch.trained import WINDOW_FLOOR_FILE, window_floor

    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("window_floor_tool", ROOT / "tools" / "window_floor.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.FLOOR_FILE == WINDOW_FLOOR_FILE
    recorded = window_floor()
    assert recorded == json.loads(WINDOW_FLOOR_FILE.read_text())
    ids, starts, val_nats, tokenizer, first_p = tool.validation_setup()
    n_windows = recorded["n_history_batches"] * tool.TRAINING["val_batch_size"]
    losses, _, _ = tool.window_losses(ids, starts, val_nats, tokenizer, first_p, n_windows=n_windows)
    history, n_batches = tool.batch_mean(losses)
    assert n_batches == recorded["n_history_batches"] == tool.TRAINING["eval_iter"]
    assert round(history, 4) == recorded["history_batches"]
    assert round(math.fsum(val_nats) / len(ids), 4) == recorded["per_story"]
    # Windows run on into the next story's beginning, the most surprising part: their floor is higher.
    # (The all-batches figure itself is recomputed only by the tool, about a minute.)
    assert recorded["per_story"] < recorded["all_batches"]
