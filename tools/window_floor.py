"""The entropy floor of the validation loss exactly as tools/train_story_model.py measures it.

    python tools/window_floor.py            # about a minute; writes gpt_from_scratch/data/window_floor.json

The validation loss averages over windows of 256 targets, one window per story start. An ideal model
scores -ln P(story) over a whole story, but a window (1) never predicts its first token, and (2) goes on
past <|endoftext|> into the beginning of the next story, where it is charged -ln P(that prefix) -- a
prefix that is all beginnings, the most surprising part of a story. This script computes both exactly:
P(the first m tokens of a story) is summed over every way the grammar can write them, by a search that
mirrors stories._story beat by beat and binds each random choice only when the text needs it.

It checks itself: for whole stories (+ <|endoftext|>) the search must give exactly the probability
SurprisalCounter records, and the probabilities of all first tokens must add up to 1.
"""

import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from gpt_from_scratch import stories as st  # noqa: E402
from gpt_from_scratch.train import StoryTokenizer, encode_stories, story_starts  # noqa: E402
from train_story_model import CORPUS, TRAINING  # noqa: E402

# The beats in story order: (beat, how many sentences: {count: probability}); see stories._story.
ONE = {1: 1.0}
ONE_OR_TWO = {1: 0.5, 2: 0.5}
CALM = [("opening", ONE), ("describe", {0: 1 / 3, 1: 1 / 3, 2: 1 / 3}), ("object", ONE),
        ("object_again", ONE_OR_TWO), ("journey", ONE), ("meet", ONE), ("greet", ONE), ("ask", ONE),
        ("answer", ONE), ("play", ONE_OR_TWO)]
TROUBLE = [("problem", ONE), ("feeling", ONE_OR_TWO), ("help", ONE_OR_TWO), ("resolve", ONE_OR_TWO)]
ENDING = [("ending", ONE_OR_TWO)]
PROGRAMS = ((0.7, CALM + TROUBLE + ENDING), (0.3, CALM + ENDING))  # rng.chance(70)
PRONOUN_SLOTS = {"he": 0, "He": 0, "him": 1, "his": 2, "His": 2}


def subsets(n, count):
    """Sorted index sets of `count` of n, in order of their first differing index."""
    if count == 0:
        yield ()
        return
    for first in range(n):
        for rest in subsets(n, count - 1):
            if all(r > first for r in rest):
                yield (first,) + rest


class PrefixSearch:
    """P(a story's tokens start with `target`), summed over every choice path of the grammar."""

    def __init__(self, tokenizer, target):
        self.encode = tokenizer.encode
        self.eot = tokenizer.eot_id
        self.target = list(target)
        text_ids = [t for t in self.target if t != self.eot]
        self.text = tokenizer.decode(text_ids)
        self.total = 0.0

    def verdict(self, text, final=False):
        """True: every story continuing `text` has the target prefix; False: none has; None: undecided."""
        if text[:len(self.text)] != self.text[:len(text)]:
            return False
        if final:  # the story ends here: its tokens and <|endoftext|>
            ids = self.encode(text) + [self.eot]
        else:  # only up to the last space are the tokens final (GPT-2 attaches a space to the next word)
            cut = text.rfind(" ")
            if cut <= 0:
                return None
            ids = self.encode(text[:cut])
        n = min(len(ids), len(self.target))
        if ids[:n] != self.target[:n]:
            return False
        return True if len(ids) >= len(self.target) else None

    def run(self):
        for p, program in PROGRAMS:
            self.beats(program, 0, {}, [], p)
        return self.total

    def beats(self, program, b, slots, lines, p):
        if b == len(program):
            if self.verdict(" ".join(lines), final=True):
                self.total += p
            return
        beat, counts = program[b]
        patterns = st.BEATS[beat]
        for count, p_count in counts.items():
            for chosen in subsets(len(patterns), count):
                q = p * p_count / math.comb(len(patterns), count)
                self.sentences(program, b, [patterns[i] for i in chosen], slots, lines, q)

    def sentences(self, program, b, todo, slots, lines, p):
        if not todo:
            return self.beats(program, b + 1, slots, lines, p)
        pieces = re.split(r"(\{\w+\})", todo[0])
        self.fill(program, b, todo, pieces, 0, "", slots, lines, p)

    def fill(self, program, b, todo, pieces, k, sentence, slots, lines, p):
        """Fill the sentence's pieces from k on, one slot at a time, pruning on the target's text."""
        while k < len(pieces) and not pieces[k].startswith("{"):
            sentence += pieces[k]
            k += 1
        if k == len(pieces):  # the sentence is complete
            line = st._A_BEFORE_VOWEL.sub("an ", sentence)
            text = " ".join(lines + [line])
            decided = self.verdict(text)
            if decided is None:
                self.sentences(program, b, todo[1:], slots, lines + [line], p)
            elif decided:
                self.total += p
            return
        for word, q, bound in self.options(pieces[k][1:-1], slots):
            partial = st._A_BEFORE_VOWEL.sub("an ", sentence + word)
            decided = self.verdict(" ".join(lines + [partial]))
            if decided is None:
                self.fill(program, b, todo, pieces, k + 1, sentence + word, {**slots, **bound}, lines, p * q)
            elif decided:
                self.total += p * q

    def options(self, slot, slots):
        """(word, probability, story-wide choices it binds) for each way to fill `slot`, given `slots`."""
        if slot in slots:
            yield slots[slot], 1.0, {}
        elif slot == "kind" or slot in PRONOUN_SLOTS:  # the hero's kind, not chosen yet
            for kind in st.KINDS:
                he, him, his = st.PRONOUNS[st.KINDS[kind]]
                bound = {"kind": kind, "he": he, "He": he.capitalize(), "him": him, "his": his,
                         "His": his.capitalize()}
                yield bound[slot], 1 / len(st.KINDS), bound
        elif slot == "Hero":  # a name of the hero's kind
            for _, q, bound in self.options("kind", slots):
                kind = {**slots, **bound}["kind"]
                names = st.GIRL_NAMES if kind == "girl" else st.BOY_NAMES
                for name in names:
                    yield name, q / len(names), {**bound, "Hero": name}
        elif slot == "Friend":  # a name that fits the friend's kind, never the hero's
            for _, q, bound in self.options("fkind", slots):
                for _, q2, bound2 in self.options("Hero", {**slots, **bound}):
                    both = {**slots, **bound, **bound2}
                    pool = {"girl": st.GIRL_NAMES, "boy": st.BOY_NAMES}.get(both["fkind"], st.NAMES)
                    friends = [n for n in pool if n != both["Hero"]]
                    for name in friends:
                        yield name, q * q2 / len(friends), {**bound, **bound2, "Friend": name}
        elif slot in ("fkind", "obj", "place"):  # story-wide words, drawn once
            for word in st.WORDS[slot]:
                yield word, 1 / len(st.WORDS[slot]), {slot: word}
        else:  # a fresh word for this slot only
            for word in st.WORDS[slot]:
                yield word, 1 / len(st.WORDS[slot]), {}


def prefix_probability(tokenizer, target):
    return PrefixSearch(tokenizer, target).run()


FLOOR_FILE = ROOT / "gpt_from_scratch" / "data" / "window_floor.json"  # read by trained.window_floor()


def validation_setup():
    """The validation stories' token ids, story starts and exact surprisals, the tokenizer, and
    P(first token) for every first token (checked to add up to 1)."""
    stories, nats = st.story_surprisals(CORPUS["n_stories"], seed=CORPUS["seed"])
    tokenizer = StoryTokenizer.from_texts(stories)
    val, val_nats = stories[-CORPUS["n_val_stories"]:], nats[-CORPUS["n_val_stories"]:]
    # Self-checks: whole stories against SurprisalCounter; the first tokens' probabilities add up to 1.
    for story, n in zip(val[:5], val_nats[:5]):
        p = prefix_probability(tokenizer, tokenizer.encode(story) + [tokenizer.eot_id])
        assert math.isclose(p, math.exp(-n), rel_tol=1e-9), (p, math.exp(-n))
    firsts = {tokenizer.encode(s)[0] for s in stories[:2000]}
    first_p = {t: prefix_probability(tokenizer, [t]) for t in firsts}
    assert math.isclose(sum(first_p.values()), 1.0, rel_tol=1e-12), first_p
    ids = encode_stories(val, tokenizer)
    return ids, story_starts(ids, tokenizer.eot_id), val_nats, tokenizer, first_p


def window_losses(ids, starts, val_nats, tokenizer, first_p, n_windows=None):
    """An ideal model's loss on each validation window (the first `n_windows`, default all), and the
    [nats, targets] spent in the window's own story and in the stories after it."""
    length = TRAINING["max_length"]
    windows = [s for s in starts if s <= len(ids) - length - 1][:n_windows]  # as GPTDataset keeps them
    story_at = {s: i for i, s in enumerate(starts[:-1])}
    losses, own, after = [], [0.0, 0], [0.0, 0]
    for s in windows:
        end, nats_in, i, pos = s + length + 1, 0.0, story_at[s], s  # the window's tokens: ids[s:end]
        while pos < end:
            story_end = starts[i + 1]          # one past the story's <|endoftext|>
            if story_end <= end:               # the whole story and its <|endoftext|> are in the window
                nats = val_nats[i]
            else:                              # the window ends inside this story: its prefix only
                nats = -math.log(prefix_probability(tokenizer, ids[pos:end]))
            if pos == s:
                nats += math.log(first_p[ids[s]])  # the first token is input only, never a target
            part = own if pos == s else after
            part[0] += nats
            part[1] += min(story_end, end) - pos - (pos == s)
            nats_in += nats
            pos, i = story_end, i + 1
        losses.append(nats_in / length)
    assert own[1] + after[1] == length * len(windows)
    return losses, own, after


def batch_mean(losses):
    """What calc_loss_loader reports for these windows: the mean of the batch means."""
    size = TRAINING["val_batch_size"]
    batches = [losses[k:k + size] for k in range(0, len(losses), size)]
    return sum(sum(b) / len(b) for b in batches) / len(batches), len(batches)


def main():
    ids, starts, val_nats, tokenizer, first_p = validation_setup()
    print("first tokens:", {tokenizer.decode([t]): round(q, 4) for t, q in first_p.items()})
    losses, own, after = window_losses(ids, starts, val_nats, tokenizer, first_p)
    windowed, n_batches = batch_mean(losses)
    history, _ = batch_mean(losses[:TRAINING["eval_iter"] * TRAINING["val_batch_size"]])
    per_story = math.fsum(val_nats) / len(ids)
    print(f"{len(losses)} windows of {TRAINING['max_length']} targets in {n_batches} batches")
    print(f"entropy floor per story (all tokens, one <|endoftext|> each): {per_story:.4f} nats/token")
    print(f"entropy floor of the windowed validation loss:                {windowed:.4f} nats/token")
    print(f"  over the first {TRAINING['eval_iter']} batches only (the training history's val_losses): "
          f"{history:.4f} nats/token")
    print(f"  in the window's own story (first token not predicted): {own[0] / own[1]:.4f} nats/token "
          f"over {own[1] / len(losses):.1f} targets per window")
    print(f"  in the next story's beginning, after <|endoftext|>:    {after[0] / after[1]:.4f} nats/token "
          f"over {after[1] / len(losses):.1f} targets per window")
    record = {"per_story": round(per_story, 4), "all_batches": round(windowed, 4), "n_batches": n_batches,
              "history_batches": round(history, 4), "n_history_batches": TRAINING["eval_iter"]}
    FLOOR_FILE.write_text(json.dumps(record, indent=1) + "\n")
    print("written to", FLOOR_FILE.relative_to(ROOT))


if __name__ == "__main__":
    main()
