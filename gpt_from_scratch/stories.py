"""Notebook 10's training data: simple children's stories from a small grammar, and a checker for it.

In the spirit of TinyStories (Eldan & Li, 2023), but written for this series from scratch: no download,
no third-party text. `make_stories(n, seed)` returns the same stories, byte for byte, on every machine
and Python version: the random choices come from a tiny generator defined here (SplitMix64), not from
Python's `random`, whose algorithms may change between versions.

Every story has a hero (a girl or a boy, so "she" or "he"), a friend met along the way, and an object
that the story keeps coming back to ("a red kite" ... "the kite" ... "it"). Pronouns always refer to
the hero; the friend is always called by name; "they" means the two together. That gives attention
long-range work: to continue "... gave it back to" the model must remember who lost what.

`is_grammatical(sentence)` says whether a sentence is one the grammar can produce, and
`check_story(text)` also checks that names, pronouns and the object stay consistent, so
"how much English did the model learn?" becomes a number.
"""

import math
import re
from dataclasses import dataclass, field

# ----------------------------------------------------------------------------- the words

GIRL_NAMES = ("Lily", "Mia", "Anna", "Sara", "Emma", "Lucy", "Rosa", "Nina", "Ella", "Zoe", "Ruby", "Ivy",
              "Maya", "Grace", "Chloe", "Hannah", "Julia", "Clara", "Alice", "Eva", "Amy", "Sophie",
              "Olivia", "Daisy", "Molly", "Lena", "Nora", "Leah", "Kate", "Jane")
BOY_NAMES = ("Tom", "Ben", "Sam", "Max", "Leo", "Jack", "Tim", "Noah", "Finn", "Luke", "Owen", "Adam",
             "Jake", "Paul", "Hugo", "Oscar", "Peter", "Liam", "Ethan", "Henry", "David", "Mark",
             "Eric", "Kevin", "Simon", "Alex", "Ryan", "Carl", "Dan", "Joe")
NAMES = GIRL_NAMES + BOY_NAMES
KINDS = {"girl": "she", "boy": "he"}  # the hero's kind decides every pronoun of the story
PRONOUNS = {  # subject, object, possessive
    "she": ("she", "her", "her"),
    "he": ("he", "him", "his"),
}

WORDS = {
    "hadj": ("little", "kind", "happy", "brave", "curious", "shy", "clever", "gentle", "funny", "quiet",
             "cheerful", "friendly", "young", "careful", "busy"),
    "tadj": ("small", "sunny", "quiet", "green", "snowy", "busy", "pretty", "old", "windy", "peaceful"),
    "town": ("town", "village", "city", "valley"),
    "daytime": ("morning", "afternoon", "evening", "spring day", "summer day", "winter day", "rainy day"),
    "landmark": ("river", "forest", "lake", "mountain", "farm", "hill", "beach", "bridge", "meadow", "pond",
                 "castle", "field", "windmill", "lighthouse"),
    "home": ("house", "cottage", "cabin", "apartment", "tent"),
    "hobby": ("draw pictures", "sing songs", "read books", "build towers", "dance in the rain",
              "climb trees", "count the stars", "pick flowers", "bake cookies", "play games",
              "watch the clouds", "paint rocks", "jump in puddles", "ride a bike", "collect shells",
              "tell jokes", "feed the birds", "plant seeds"),
    "trait": ("kind", "brave", "curious", "helpful", "polite", "patient", "honest", "smart", "strong",
              "generous"),
    "food": ("apples", "bread", "soup", "pancakes", "eggs", "carrots", "rice", "cake", "berries", "cheese",
             "honey", "noodles", "porridge", "bananas", "grapes", "pears", "muffins", "toast", "yogurt",
             "plums", "peaches", "corn", "beans", "pie", "jam"),
    "relative": ("mom", "dad", "grandma", "grandpa", "aunt", "uncle", "sister", "brother"),
    "color": ("red", "blue", "green", "yellow", "purple", "pink", "white", "black", "brown", "gold",
              "silver", "gray"),
    "oadj": ("shiny", "soft", "big", "tiny", "bright", "fluffy", "smooth", "colorful", "round", "heavy",
             "light", "new", "special", "magic", "wooden", "striped", "sparkly", "warm", "noisy", "lovely"),
    "obj": ("ball", "kite", "teddy", "doll", "hat", "drum", "boat", "car", "robot", "book", "balloon",
            "box", "bell", "cup", "scarf", "shoe", "sock", "train", "truck", "whistle", "crayon",
            "umbrella", "blanket", "pillow", "jar", "basket", "spoon", "ring", "key", "button", "map",
            "lamp", "clock", "puzzle", "flute", "feather", "stone", "leaf", "shell", "star"),
    "under": ("bed", "chair", "table", "bush", "rock", "bench", "sofa", "pile of leaves", "pile of snow",
              "big old tree"),
    "place": ("park", "garden", "beach", "market", "zoo", "library", "school", "playground", "forest", "farm",
              "lake", "river", "hill", "meadow", "pond", "shop", "bakery", "museum", "station", "harbor"),
    "meal": ("breakfast", "lunch", "dinner"),
    "sunadj": ("warm", "bright", "hot", "gentle", "golden"),
    "fadj": ("small", "friendly", "funny", "kind", "sleepy", "fast", "tall", "silly", "gentle", "noisy",
             "lonely", "clever", "shy", "happy", "old"),
    "fkind": ("girl", "boy", "dog", "cat", "bird", "bunny", "frog", "duck", "bear", "fox", "mouse", "owl",
              "puppy", "kitten", "pig", "cow", "horse", "sheep", "goat", "lion", "tiger", "turtle",
              "squirrel", "monkey", "elephant", "deer", "hen", "snail", "bee", "fish"),
    "greeting": ("Hello", "Hi", "Good morning", "Good day"),
    "period": ("day", "morning", "afternoon"),
    "playverb": ("ran", "jumped", "laughed", "sang", "danced", "played", "hopped", "skipped", "giggled",
                 "raced", "spun", "clapped", "swung", "rolled", "splashed"),
    "skycolor": ("orange", "pink", "dark", "purple"),
    "hole": ("hole", "puddle", "ditch", "well", "pond", "stream", "bush", "tree", "cave", "pit of sand"),
    "wind": ("strong", "cold", "sudden", "wild", "big"),
    "tall": ("tall tree", "high roof", "tall fence", "high wall", "big cloud", "tall tower"),
    "lostplace": ("tall grass", "dark woods", "deep snow", "thick bushes", "busy street", "big crowd",
                  "muddy field", "tall reeds"),
    "sad": ("sad", "upset", "worried", "scared", "lonely", "unhappy", "grumpy", "nervous"),
    "happy": ("happy", "glad", "thankful", "excited", "joyful", "proud", "relieved", "cheerful"),
    "tool": ("stick", "rope", "ladder", "net", "pole", "branch", "hook", "broom"),
    "helpverb": ("looked everywhere", "dug in the dirt", "climbed up high", "jumped into the water",
                 "searched all around", "asked a wise owl", "followed the tracks", "called for help"),
    "lesson": ("friends help each other", "sharing makes everyone happy", "it is good to be kind",
               "being brave is not so hard", "it is fun to make new friends", "you should never give up",
               "a good friend is a treasure", "asking for help is smart", "being careful is wise",
               "kindness always comes back"),
    "weather": ("sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "cold", "warm"),
    "sound": ("sang a song", "said thank you", "waved goodbye", "smiled a big smile", "hummed a tune",
              "shouted with joy", "clapped loudly", "jumped up and down"),
}

# ----------------------------------------------------------------------------- the sentence patterns

# Slots: {Hero} {Friend} name slots; {he} {He} {him} {his} {His} the hero's pronouns; {kind} girl/boy;
# {obj} the story's object and {place} its place; any other {slot} is a word of WORDS[slot]. Each beat of a story picks
# one of its patterns; the patterns of all beats together are the grammar.
BEATS = {
    "opening": (
        "Once upon a time, there was a {hadj} {kind} named {Hero}.",
        "Once upon a time, in a {tadj} {town}, there lived a {hadj} {kind} named {Hero}.",
        "One {daytime}, a {hadj} {kind} named {Hero} woke up early.",
        "There once was a {hadj} {kind} named {Hero} who lived near a {landmark}.",
        "Long ago, a {hadj} {kind} named {Hero} lived in a {tadj} {home}.",
    ),
    "describe": (
        "{He} loved to {hobby} every day.",
        "{Hero} was very {trait} and liked to help others.",
        "Every morning, {Hero} ate {food} with {his} {relative}.",
        "{His} favorite color was {color}.",
        "The weather was {weather}, and {Hero} wanted to go outside.",
    ),
    "object": (
        "{Hero} had a {oadj} {obj} that {he} loved very much.",
        "One day, {Hero} found a {oadj} {obj} under the {under}.",
        "{His} {relative} gave {him} a {oadj} {obj} for {his} birthday.",
    ),
    "object_again": (
        "{He} took the {obj} everywhere {he} went.",
        "The {obj} was {color} and very {oadj}.",
        "{Hero} showed the {obj} to {his} {relative}, who smiled.",
        "{He} held the {obj} close and never let it go.",
    ),
    "journey": (
        "One day, {Hero} went to the {place} with {his} {obj}.",
        "After {meal}, {Hero} took the {obj} to the {place}.",
        "The sun was {sunadj}, so {Hero} walked to the {place} with the {obj}.",
    ),
    "meet": (
        "At the {place}, {he} met a {fadj} {fkind} named {Friend}.",
        "There, {Hero} saw a {fadj} {fkind} named {Friend} sitting by the {landmark}.",
    ),
    "greet": (
        '"{greeting}, {Friend}!" said {Hero}.',
        '"{greeting}, I am {Hero}," said {Hero}.',
    ),
    "ask": (
        '"Can I play with your {obj}?" asked {Friend}.',
        '"Your {obj} is so {oadj}!" said {Friend}.',
        '"Where did you get your {obj}?" asked {Friend}.',
    ),
    "answer": (
        '{Hero} smiled and said, "Yes, we can play together."',
        '"Of course, let us share it," said {Hero}.',
        '{Hero} said, "My {relative} gave it to me."',
    ),
    "play": (
        "{Hero} and {Friend} played with the {obj} all {period}.",
        "They {playverb} and {playverb} until the sky turned {skycolor}.",
        "They took turns with the {obj} and laughed a lot.",
    ),
    "problem": (
        "Then the {obj} fell into a {hole}.",
        "Suddenly, a {wind} wind blew the {obj} up onto a {tall}.",
        "But the {obj} rolled away and got lost in the {lostplace}.",
    ),
    "feeling": (
        "{Hero} was very {sad}.",
        "{He} began to cry because {he} missed the {obj}.",
        "{He} did not know what to do.",
    ),
    "help": (
        '{Friend} said, "Do not be {sad}, I will help you."',
        "{Friend} {helpverb} and found the {obj}.",
        "{Friend} used a long {tool} to reach the {obj}.",
    ),
    "resolve": (
        "{Hero} was so {happy} to have the {obj} again.",
        '"Thank you, {Friend}!" said {Hero}.',
        "{He} gave {Friend} a big hug.",
        "{Hero} {sound}.",
    ),
    "ending": (
        "From that day on, {Hero} and {Friend} were best friends.",
        "After that, {Hero} always shared {his} {obj} with {Friend}.",
        "{Hero} learned that {lesson}.",
        "They played together every day and were very happy.",
        "That night, {Hero} went to bed with a big smile.",
    ),
}
SENTENCE_PATTERNS = tuple(p for patterns in BEATS.values() for p in patterns)

# ----------------------------------------------------------------------------- the random choices


class SplitMix64:
    """A tiny, fully specified random generator: the same numbers in every Python version."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if not 0 <= seed <= self.MASK:  # masking would make 2**64 the same seed as 0, and -1 as 2**64 - 1
            raise ValueError(f"seed must be between 0 and 2**64 - 1, got {seed}")
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def below(self, n):
        """An int in [0, n); the bias of the modulo is below 1e-17 for the sizes used here."""
        return self.next() % n

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, percent):
        return self.below(100) < percent

    def distinct(self, n, count):
        """`count` different indices below n, sorted (see _distinct)."""
        return _distinct(self, n, count)


class SurprisalCounter(SplitMix64):
    """SplitMix64 that also adds up the surprisal, -ln P, of the choices a story makes with it (in nats).

    below(n) picks one of n equally likely outcomes: ln n nats. Two kinds of choice are counted whole
    instead of draw by draw: chance(percent) has two outcomes, with probabilities percent/100 and
    (100 - percent)/100; distinct(n, k) returns a sorted set of k indices -- its redrawn repeats and the
    order of its draws leave no trace in the story, and all C(n, k) sets are equally likely: ln C(n, k).
    (The modulo in below() makes draws uneven by less than 1e-17: ignored.)
    """

    def __init__(self, seed):
        super().__init__(seed)
        self.nats = 0.0
        self._counting = True

    def below(self, n):
        if self._counting:
            self.nats += math.log(n)
        return super().below(n)

    def chance(self, percent):
        happened = self._uncounted(super().chance, percent)
        self.nats -= math.log((percent if happened else 100 - percent) / 100)
        return happened

    def distinct(self, n, count):
        if count > n:  # then counts n, n + 1, ... would all write the same sentences: one story, several paths
            raise ValueError(f"asked for {count} different sentences of {n}: the surprisal would be miscounted")
        chosen = self._uncounted(super().distinct, n, count)
        self.nats += math.log(math.comb(n, count))
        return chosen

    def _uncounted(self, draw, *args):
        self._counting = False
        try:
            return draw(*args)
        finally:
            self._counting = True


# ----------------------------------------------------------------------------- writing stories


def _fill(pattern, rng, slots):
    """Replace each {slot} of `pattern`: story-wide slots from `slots`, the rest with a fresh random word."""
    text = re.sub(r"\{(\w+)\}", lambda m: slots.get(m.group(1)) or rng.choice(WORDS[m.group(1)]), pattern)
    return _A_BEFORE_VOWEL.sub("an ", text)  # "a old town" -> "an old town"


# "a" becomes "an" before a vowel sound; in this vocabulary every word that starts with a vowel letter
# starts with a vowel sound (old, owl, elephant, ...), so the letter decides.
_A_BEFORE_VOWEL = re.compile(r"\ba (?=[aeiou])")
_ARTICLE_MISMATCH = re.compile(r"\b[Aa] (?=[AEIOUaeiou])|\b[Aa]n (?=[^AEIOUaeiou])")


def _story(rng):
    kind = rng.choice(tuple(KINDS))
    he, him, his = PRONOUNS[KINDS[kind]]
    hero = rng.choice(GIRL_NAMES if kind == "girl" else BOY_NAMES)
    friend_kind = rng.choice(WORDS["fkind"])
    friend_names = {"girl": GIRL_NAMES, "boy": BOY_NAMES}.get(friend_kind, NAMES)
    friend = rng.choice([n for n in friend_names if n != hero])
    slots = {"Hero": hero, "Friend": friend, "kind": kind, "obj": rng.choice(WORDS["obj"]),
             "place": rng.choice(WORDS["place"]),
             "he": he, "He": he.capitalize(), "him": him, "his": his, "His": his.capitalize()}

    def say(beat, count=1):
        for index in rng.distinct(len(BEATS[beat]), count):
            lines.append(_fill(BEATS[beat][index], rng, slots))

    lines = []
    say("opening")
    say("describe", rng.below(3))
    say("object")
    say("object_again", rng.below(2) + 1)
    say("journey")
    meets = BEATS["meet"][rng.below(2)]
    lines.append(_fill(meets, rng, {**slots, "fkind": friend_kind}))
    say("greet")
    say("ask")
    say("answer")
    say("play", rng.below(2) + 1)
    if rng.chance(70):  # most stories have trouble in the middle
        say("problem")
        say("feeling", rng.below(2) + 1)
        say("help", rng.below(2) + 1)
        say("resolve", rng.below(2) + 1)
    say("ending", rng.below(2) + 1)
    return " ".join(lines)


def _distinct(rng, n, count):
    """`count` different indices below n, in story order (a beat never repeats a sentence)."""
    chosen = []
    while len(chosen) < min(count, n):
        i = rng.below(n)
        if i not in chosen:
            chosen.append(i)
    return sorted(chosen)


MAX_STORIES = 1_000_000  # a larger request would run for minutes and fill the memory with text


def make_stories(n_stories, seed=0):
    """`n_stories` stories (a list of str), the same for the same seed on every machine."""
    if isinstance(n_stories, bool) or not isinstance(n_stories, int):
        raise TypeError(f"n_stories must be an int, got {type(n_stories).__name__}")
    if not 0 < n_stories <= MAX_STORIES:
        raise ValueError(f"n_stories must be between 1 and {MAX_STORIES:,}, got {n_stories}")
    rng = SplitMix64(seed)
    return [_story(rng) for _ in range(n_stories)]


# ----------------------------------------------------------------------------- checking text


def _slot_regex(slot):
    if slot in ("Hero", "Friend"):
        words = NAMES
    elif slot == "kind":
        words = tuple(KINDS)
    elif slot.lower() in ("he", "him", "his"):
        form = ("he", "him", "his").index(slot.lower())  # subject, object or possessive
        words = tuple(forms[form] for forms in PRONOUNS.values())
        words = tuple(w.capitalize() for w in words) if slot[0].isupper() else words
    elif slot == "obj":
        words = WORDS["obj"]
    else:
        words = WORDS[slot]
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


def _pattern_regex(pattern):
    parts = re.split(r"(\{\w+\})", pattern)
    return re.compile("".join(_slot_regex(p[1:-1]) if p.startswith("{") else _literal_regex(p) for p in parts))


def _literal_regex(text):
    """The fixed text between slots; an "a " right before a slot may be "an " (see _fill)."""
    return re.sub(r"(?<![A-Za-z])a\\ $", "an?\\ ", re.escape(text))


_REGEXES = tuple(_pattern_regex(p) for p in SENTENCE_PATTERNS)


def split_sentences(text):
    """The sentences of a story, in order (a quoted line and its "said X" tag stay one sentence)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    pieces, start = [], 0
    # A sentence ends at . ! or ? (and maybe a closing quote) before a capital, a quote or the end;
    # in '"Hi, Tom!" said Lily.' the lowercase "said" keeps the tag in the same sentence.
    for match in re.finditer(r'[.!?]"?(?=\s+[A-Z"]|\s*$)', text):
        end = match.end()
        pieces.append(text[start:end].strip())
        start = end
    rest = text[start:].strip()
    if rest:
        pieces.append(rest)  # an unfinished last sentence
    return [p for p in pieces if p]


def is_grammatical(sentence):
    """True if the grammar of this module can produce `sentence` exactly (words, capitals, punctuation)."""
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    if _ARTICLE_MISMATCH.search(sentence):  # "a old", "an big"
        return False
    return any(regex.fullmatch(sentence) for regex in _REGEXES)


@dataclass
class StoryCheck:
    sentences: list
    grammatical: list  # one bool per sentence
    problems: list = field(default_factory=list)  # what is inconsistent: names, pronouns, the object

    @property
    def consistent(self):
        return not self.problems

    @property
    def pass_rate(self):
        return sum(self.grammatical) / len(self.grammatical) if self.grammatical else 0.0


_WORD = re.compile(r"[A-Za-z]+")
_PRONOUN_GENDER = {"she": "she", "her": "she", "he": "he", "him": "he", "his": "he"}


def check_story(text):
    """Sentence by sentence grammar, and whether names, pronouns and the object stay consistent.

    The hero is the first character introduced ("a girl named Lily"): every she/he/her/him/his must
    match the hero's kind. A name may be used only after it was introduced with "named". The story's
    object is the first object word (ball, kite, ...); no other object word may appear.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be one story (a str), got {type(text).__name__}"
                        + ("; for a list of stories use grammar_report" if isinstance(text, (list, tuple)) else ""))
    sentences = split_sentences(text)
    check = StoryCheck(sentences, [is_grammatical(s) for s in sentences])
    if not sentences:
        check.problems.append("the story is empty")
    introduced, hero_pronoun, story_object = [], None, None
    for sentence in sentences:
        words = _WORD.findall(sentence)
        for i, word in enumerate(words):
            if word in NAMES:
                if i > 0 and words[i - 1] == "named":
                    introduced.append(word)
                    if hero_pronoun is None and i >= 2 and words[i - 2] in KINDS:
                        hero_pronoun = KINDS[words[i - 2]]
                elif word not in introduced:
                    check.problems.append(f"{word} is used before being introduced")
            elif word.lower() in _PRONOUN_GENDER and hero_pronoun is not None:
                if _PRONOUN_GENDER[word.lower()] != hero_pronoun:
                    check.problems.append(f"'{word}' for a hero who is '{hero_pronoun}'")
            elif word in WORDS["obj"]:
                story_object = story_object or word
                if word != story_object:
                    check.problems.append(f"the {word} appears in a story about a {story_object}")
    return check


@dataclass
class GrammarReport:
    """What the checker finds in a set of stories: sentences, grammatical ones, fully consistent stories."""

    n_stories: int
    sentences: int
    grammatical: int
    consistent: int

    @property
    def rate(self):
        """The share of grammatical sentences (0 to 1)."""
        return self.grammatical / self.sentences if self.sentences else 0.0

    def __str__(self):
        return (f"{self.grammatical}/{self.sentences} sentences grammatical ({100 * self.rate:.1f} %), "
                f"{self.consistent}/{self.n_stories} stories consistent")


def grammar_report(stories):
    """check_story over a list of stories, added up. An empty story counts as not consistent."""
    if isinstance(stories, str) or not isinstance(stories, (list, tuple)):
        raise TypeError(f"stories must be a list of stories (str), got {type(stories).__name__}"
                        + ("; for one story write grammar_report([story])" if isinstance(stories, str) else ""))
    if not stories:
        raise ValueError("stories is empty: give at least one story")
    checks = [check_story(story) for story in stories]
    return GrammarReport(len(checks), sum(len(c.sentences) for c in checks),
                         sum(sum(c.grammatical) for c in checks), sum(c.consistent for c in checks))


# ----------------------------------------------------------------------------- the entropy floor


def story_surprisals(n_stories, seed=0):
    """(stories, nats): make_stories(n_stories, seed) and -ln P(story) of each, from the same draws.

    Different choices always write different stories (every sentence fits one pattern and its words
    one way, and a beat never asks for more sentences than it has), so -ln P(story) is the sum of the
    surprisals of the choices that wrote it.
    """
    if isinstance(n_stories, bool) or not isinstance(n_stories, int):
        raise TypeError(f"n_stories must be an int, got {type(n_stories).__name__}")
    if n_stories <= 0:
        raise ValueError(f"n_stories must be positive, got {n_stories}")
    rng = SurprisalCounter(seed)
    stories, nats = [], []
    for _ in range(n_stories):
        rng.nats = 0.0  # each story's own sum
        stories.append(_story(rng))
        nats.append(rng.nats)
    return stories, nats


def entropy_floor(stories, nats, tokenizer):
    """The loss, in nats per token, of an ideal model on `stories`: the lowest any model can reach on average.

    Total -ln P(story) over the stories, divided by their number of tokens, counting the <|endoftext|>
    that follows each story (its probability is part of P(story): the story could have gone on).
    """
    stories, nats = list(stories), list(nats)
    if len(stories) != len(nats) or not stories:
        raise ValueError(f"need one surprisal per story and at least one story, got {len(stories)} stories "
                         f"and {len(nats)} surprisals; pass both lists of story_surprisals(...)")
    if isinstance(tokenizer, (str, bytes)) or not callable(getattr(tokenizer, "encode", None)):
        raise TypeError(f"tokenizer must have an encode method (a StoryTokenizer), got {type(tokenizer).__name__}")
    n_tokens = sum(len(tokenizer.encode(story)) + 1 for story in stories)  # + 1: the <|endoftext|>
    return math.fsum(nats) / n_tokens
