"""The story corpus: reproducible to the byte, rich enough to learn from, and checkable."""

import collections
import hashlib
import math
import os
import random
import re
import subprocess
import sys

import pytest

import gpt_from_scratch.stories
from gpt_from_scratch.stories import (
    _REGEXES, BEATS, NAMES, SENTENCE_PATTERNS, WORDS, SplitMix64, check_story, grammar_report, is_grammatical,
    make_stories, split_sentences)


STORIES_PY = gpt_from_scratch.stories.__file__


@pytest.fixture(scope="module")
def stories():
    return make_stories(400, seed=0)


def test_splitmix64_matches_the_published_reference():
    # The first outputs for seed 1234567 of Vigna's reference splitmix64.c (also checked here against a C build).
    rng = SplitMix64(1234567)
    assert [rng.next() for _ in range(3)] == [6457827717110365317, 3203168211198807973, 9817491932198370423]


def _corpus_digest(hash_seed):
    # stories.py needs only the standard library: loaded on its own, the interpreter skips importing torch.
    code = ("import hashlib, importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('stories', {str(STORIES_PY)!r})\n"
            "stories = sys.modules['stories'] = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(stories)\n"
            "assert 'torch' not in sys.modules\n"
            "print(hashlib.sha256('\\n'.join(stories.make_stories(300, seed=7)).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_the_corpus_is_byte_identical_for_a_seed():
    # Two interpreters with different string hashing (set and dict order tricks would show here).
    assert _corpus_digest(0) == _corpus_digest(12345)
    here = hashlib.sha256("\n".join(make_stories(300, seed=7)).encode()).hexdigest()
    assert _corpus_digest(1).strip() == here
    assert make_stories(50, seed=1) != make_stories(50, seed=2)


def test_the_corpus_is_rich(stories):
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", " ".join(stories))}
    assert len(words) >= 500
    assert len(SENTENCE_PATTERNS) >= 20
    sentences = [s for story in stories for s in split_sentences(story)]
    unused = [p for p, regex in zip(SENTENCE_PATTERNS, _REGEXES) if not any(regex.fullmatch(s) for s in sentences)]
    assert not unused, unused
    assert any(s.startswith("Once upon a time") for s in stories)
    assert any(not s.startswith("Once upon a time") for s in stories)
    assert all('"' in s for s in stories)  # every story has dialogue
    assert all(len(split_sentences(s)) >= 8 for s in stories)


def test_characters_and_objects_are_referred_back(stories):
    for story in stories:
        hero = re.search(r"(girl|boy) named (\w+)", story)
        pronoun = "She" if hero.group(1) == "girl" else "He"
        obj = next(w for w in re.findall(r"[a-z]+", story) if w in WORDS["obj"])
        assert story.count(hero.group(2)) >= 2, story            # the hero's name comes back
        assert story.count(f"the {obj}") + story.count(f"{obj}") >= 2, story  # so does the object
        other = {"She": "He", "He": "She"}[pronoun]
        assert not re.search(rf"\b({other}|{other.lower()})\b", story), story  # one pronoun per hero
        assert check_story(story).consistent, check_story(story).problems


def test_every_generated_sentence_is_grammatical(stories):
    for story in stories:
        check = check_story(story)
        assert all(check.grammatical), [s for s, ok in zip(check.sentences, check.grammatical) if not ok]
        assert check.pass_rate == 1.0


def test_the_checker_rejects_shuffled_sentences(stories):
    rng = random.Random(0)
    sentences = [s for story in stories[:100] for s in split_sentences(story)]
    rejected = 0
    for sentence in sentences:
        words = sentence.split()
        shuffled = words[:]
        while shuffled == words:
            rng.shuffle(shuffled)
        rejected += not is_grammatical(" ".join(shuffled))
    assert rejected / len(sentences) >= 0.99, rejected / len(sentences)
    assert not is_grammatical("Once upon a time, there was a girl little named Lily.")
    assert not is_grammatical("Once upon a time, there was a little girl named Lily")  # no full stop
    assert not is_grammatical("Once upon a time, there was a little dragon named Lily.")  # not in the grammar


def test_the_consistency_check_can_fail():
    story = make_stories(1, seed=3)[0]
    hero_is_girl = "girl named" in story.split(".")[0]
    swapped = re.sub(r"\bShe\b", "He", story) if hero_is_girl else re.sub(r"\bHe\b", "She", story)
    if swapped == story:  # this story starts no sentence with the pronoun: use one that does
        story = next(s for s in make_stories(50, seed=3) if re.search(r"\b(She|He)\b", s))
        hero_is_girl = "girl named" in story.split(".")[0]
        swapped = re.sub(r"\bShe\b", "He", story) if hero_is_girl else re.sub(r"\bHe\b", "She", story)
    assert check_story(story).consistent
    assert not check_story(swapped).consistent
    stranger = next(n for n in NAMES if n not in story)
    assert not check_story(story + f" {stranger} was very sad.").consistent
    obj = next(w for w in re.findall(r"[a-z]+", story) if w in WORDS["obj"])
    other = next(o for o in WORDS["obj"] if o != obj)
    assert not check_story(story + f" Then the {other} fell into a hole.").consistent


def test_split_sentences_keeps_dialogue_tags():
    text = '"Hello, Tom!" said Lily. Lily said, "Do not be sad, I will help you." Then the ball fell into a hole.'
    assert split_sentences(text) == ['"Hello, Tom!" said Lily.', 'Lily said, "Do not be sad, I will help you."',
                                     "Then the ball fell into a hole."]


def test_object_words_never_appear_elsewhere():
    """The consistency check finds the story's object by its word: no other slot or pattern may use one."""
    objects = set(WORDS["obj"])
    for slot, phrases in WORDS.items():
        if slot != "obj":
            assert not objects & {w for p in phrases for w in p.split()}, slot
    for pattern in SENTENCE_PATTERNS:
        assert not objects & set(re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", pattern))), pattern
    assert len(BEATS) >= 10


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), ("5", TypeError),
                                       (True, TypeError)])
def test_bad_story_counts(bad, error):
    with pytest.raises(error, match="n_stories"):
        make_stories(bad)


def test_bad_checker_input():
    with pytest.raises(TypeError, match="sentence"):
        is_grammatical(["Once"])
    with pytest.raises(TypeError, match="text"):
        split_sentences(None)
    with pytest.raises(TypeError, match="seed"):
        make_stories(3, seed="0")


def test_grammar_report_adds_up_the_checks(stories):
    report = grammar_report(stories[:10])
    assert report.n_stories == 10 and report.consistent == 10 and report.rate == 1.0
    assert report.sentences == sum(len(split_sentences(s)) for s in stories[:10])
    bad = grammar_report([stories[0] + " Lily the ball blue.", "ball the Lily."])
    assert bad.grammatical == bad.sentences - 2 and bad.rate < 1
    assert str(bad).startswith(f"{bad.grammatical}/{bad.sentences} sentences grammatical")


# ----------------------------------------------------------------------------- the entropy floor

from gpt_from_scratch.stories import SurprisalCounter, entropy_floor, story_surprisals  # noqa: E402


def test_surprisals_come_from_the_same_draws_as_the_corpus():
    stories, nats = story_surprisals(60, seed=5)
    assert stories == make_stories(60, seed=5)
    assert len(nats) == 60 and all(n > 0 for n in nats)


def test_distinct_and_chance_are_counted_as_one_choice_each():
    # Sorted sets of 2 of 4 indices: 6 sets, each 1/6, whatever the redraws; seen as frequencies.
    rng, n_draws = SurprisalCounter(11), 6000
    sets = collections.Counter()
    for _ in range(n_draws):
        rng.nats = 0.0
        sets[tuple(rng.distinct(4, 2))] += 1
        assert rng.nats == pytest.approx(math.log(6))
    assert len(sets) == 6
    assert all(abs(c / n_draws - 1 / 6) < 5 * math.sqrt(1 / 6 * 5 / 6 / n_draws) for c in sets.values()), sets
    # chance(70): ln(1/0.7) when it happens, ln(1/0.3) when not -- not ln 100 for the draw below 100.
    for _ in range(50):
        rng.nats = 0.0
        happened = rng.chance(70)
        assert rng.nats == pytest.approx(-math.log(0.7 if happened else 0.3))
    with pytest.raises(ValueError, match="3 different sentences of 2"):
        rng.distinct(2, 3)


# A grammar small enough to count its stories: one or two patterns per beat, few names. The friend is
# drawn from a list that leaves out the hero (1 or 2 names), so that filtering is exercised too.
TINY = {
    "GIRL_NAMES": ("Ann", "Eve"), "BOY_NAMES": ("Bob",), "NAMES": ("Ann", "Eve", "Bob"),
    "WORDS": {"fkind": ("girl", "dog"), "obj": ("kite",), "place": ("park",)},
    "BEATS": {
        "opening": ("{Hero} is a {kind}.",),
        "describe": ("{He} sings.", "{He} reads."),
        "object": ("{He} has a {obj}.",),
        "object_again": ("The {obj} is red.", "The {obj} is big."),
        "journey": ("{He} goes to the {place}.",),
        "meet": ("{He} meets a {fkind}, {Friend}.", "A {fkind}, {Friend}, waves."),
        "greet": ("Hi.",), "ask": ("Nice {obj}.",), "answer": ("Thanks.",),
        "play": ("They run.", "They jump."),
        "problem": ("The {obj} falls.",),
        "feeling": ("{He} cries.", "{He} frowns."),
        "help": ("{Friend} helps.", "{Friend} digs."),
        "resolve": ("{He} smiles.", "{He} hugs {Friend}."),
        "ending": ("The end.", "Bye."),
    },
}
# Its number of different stories, counted by hand: (hero, friend) pairs: Ann or Eve with a girl friend
# (the other one) or a dog (2 names), Bob with a girl or a dog (2 names each): 3 + 3 + 4 = 10. Sentences
# per beat: describe 0-2 of 2 patterns: 1 + 2 + 1 = 4 ways; a 1-2 of 2 beat: 2 + 1 = 3 ways; meet 2.
TINY_CALM = 10 * 4 * 3 * 2 * 3 * 3                # no trouble: describe, object_again, meet, play, ending
TINY_ALL = TINY_CALM + TINY_CALM * 3 * 3 * 3     # trouble adds feeling, help and resolve


def test_exact_story_probabilities_match_frequencies_on_a_tiny_grammar(monkeypatch):
    for name, value in TINY.items():
        monkeypatch.setattr(gpt_from_scratch.stories, name, value)
    n = 4000
    stories, nats = story_surprisals(n, seed=1)
    assert stories[:300] == make_stories(300, seed=1)
    p = {}
    for story, s in zip(stories, nats):  # one text, one probability: no two paths to the same story
        assert math.isclose(p.setdefault(story, math.exp(-s)), math.exp(-s), rel_tol=1e-12)
    assert len(p) <= TINY_ALL
    assert sum(p.values()) <= 1 + 1e-12
    # For stories X drawn from P, the mean of 1{X in A} / P(X) is the number of stories in A. A wrong
    # probability (a redraw counted, ln 100 for chance(70), the hero left in the friend list) moves it far.
    counts = collections.Counter(stories)
    calm = [story for story in stories if "falls" not in story]
    for subset, size in ((stories, TINY_ALL), (calm, TINY_CALM)):
        estimate = sum(1 / p[story] for story in subset) / n
        spread = math.sqrt(sum(1 / p[story] ** 2 for story in subset) / n - estimate ** 2) / math.sqrt(n)
        assert abs(estimate - size) < 4 * spread, (estimate, size, spread)
        assert spread < 0.1 * size  # the check has the power to see a factor of 2 on a tenth of the stories
    # The most frequent stories, one by one: frequency against probability.
    for story, count in counts.most_common(5):
        assert abs(count - n * p[story]) < 5 * math.sqrt(n * p[story]), (story, count, n * p[story])


def test_every_sentence_fits_exactly_one_pattern(stories):
    """Why a story's probability is that of its one choice path: its sentences name their patterns."""
    assert len(set(SENTENCE_PATTERNS)) == len(SENTENCE_PATTERNS)
    for story in stories[:100]:
        for sentence in split_sentences(story):
            assert sum(bool(regex.fullmatch(sentence)) for regex in _REGEXES) == 1, sentence


class _WordTokenizer:
    def encode(self, text):
        return text.split()


def test_entropy_floor_divides_by_tokens_and_one_end_per_story():
    assert entropy_floor(["a b", "c"], [2.0, 1.0], _WordTokenizer()) == pytest.approx(3.0 / 5)
    stories, nats = story_surprisals(50, seed=0)
    floor = entropy_floor(stories, nats, _WordTokenizer())
    words = sum(len(s.split()) + 1 for s in stories)
    assert floor == pytest.approx(sum(nats) / words)


@pytest.mark.parametrize("args,error,match", [
    ((["a"], [1.0, 2.0], _WordTokenizer()), ValueError, "one surprisal per story"),
    (([], [], _WordTokenizer()), ValueError, "at least one story"),
    ((["a"], [1.0], "gpt2"), TypeError, "tokenizer must have an encode method"),
])
def test_entropy_floor_bad_inputs(args, error, match):
    with pytest.raises(error, match=match):
        entropy_floor(*args)


@pytest.mark.parametrize("bad,error", [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_story_surprisals_bad_counts(bad, error):
    with pytest.raises(error, match="n_stories"):
        story_surprisals(bad)
