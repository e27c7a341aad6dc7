"""Deterministic answers: seeded randomness, answer text, token counts, latent quality and timing.

Everything here is pure: given a profile, a seeded `random.Random` and the conversation, the answer is
fixed. A good answer is confident and structured and names the question's key words; a weak one is
short and hedged. Tokens are whitespace-led words, so the text is exactly the concatenation of its tokens.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass

from devtools.simulator.profiles import Difficulty, ModelProfile

Message = tuple[str, str]  # (role, text)

_STOPWORD_TEXT = """
the and for are but not you all any can how who why its our was has had did get got let may use too one two
out off own per via yet
about above after again also because been before being between both could does doing down during each from
further have having here into just more most much only other over please same should some such than that
their them then there these they this those through under until very what when where which while will with
would your yours explain tell give show write using make know want need like answer question thing things
work works mean means
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_KEY_WORD = re.compile(r"[a-zA-Z][a-zA-Z0-9_+#-]{2,}")
_TOKEN = re.compile(r"\s*\S+")

_GOOD_OPENINGS = (
    "Here is a clear answer on {topic}.",
    "In short, the answer on {topic} comes down to a few concrete points.",
    "{Topic} is best understood in three parts.",
)
_GOOD_POINTS = (
    "{kw} is the central idea, and it determines how the rest behaves.",
    "{kw} matters because it sets the constraints you have to respect.",
    "the usual approach to {kw} is to start from the definition and check each case.",
    "a common mistake with {kw} is to skip the edge cases, so test them explicitly.",
    "{kw} follows directly once the assumptions are stated precisely.",
)
_GOOD_DETAILS = (
    "Concretely, {kw} works because each step preserves the invariant established by the previous one.",
    "A worked example makes this concrete: apply {kw} to a small input and compare the result with the "
    "expected output.",
    "The cost is linear in the size of the input, which is why {kw} scales well in practice.",
    "Where {kw} interacts with {kw2}, handle {kw2} first; the rest then follows without special cases.",
    "This is the standard treatment of {kw}, and it agrees with the usual references.",
    "To verify it, check that {kw} holds at the boundary and that nothing changes in between.",
)
_GOOD_CLOSINGS = (
    "So the answer is: rely on {kw}, state your assumptions, and check the edge cases.",
    "That covers {topic}; the key takeaway is that {kw} drives the result.",
)
_WEAK_SENTENCES = (
    "I'm not sure, but {kw} might be related to {kw2}.",
    "It could depend on {kw}, although I can't say for certain.",
    "Maybe {kw2} plays a role here, but I may be wrong.",
    "Possibly the answer involves {kw} in some way.",
    "You may want to double-check this elsewhere.",
)


@dataclass(frozen=True)
class Answer:
    """A drawn answer: its tokens, why it stopped, its hidden quality and its timing in seconds."""

    tokens: tuple[str, ...]
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    difficulty: Difficulty
    good: bool
    quality: float
    ttft_seconds: float
    tokens_per_second: float

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens)

    @property
    def generation_seconds(self) -> float:
        return self.completion_tokens / self.tokens_per_second

    def simulator_info(self) -> dict[str, object]:
        return {"quality": self.quality, "good": self.good, "difficulty": self.difficulty}


def request_digest(model: str, messages: tuple[Message, ...]) -> str:
    payload = json.dumps([model, [list(message) for message in messages]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def seeded_rng(seed: int, digest: str, occurrence: int, stream: str) -> random.Random:
    """A generator fixed by (seed, request, occurrence); `stream` separates answers from faults."""
    material = f"{seed}\x1f{digest}\x1f{occurrence}\x1f{stream}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:16], "big"))


def count_prompt_tokens(messages: tuple[Message, ...]) -> int:
    return math.ceil(sum(len(text) for _, text in messages) / 4)


def last_user_text(messages: tuple[Message, ...]) -> str:
    return next((text for role, text in reversed(messages) if role == "user"), "")


def key_words(text: str, limit: int = 3) -> list[str]:
    words = (word.lower() for word in _KEY_WORD.findall(text))
    unique = dict.fromkeys(word for word in words if word not in _STOPWORDS)
    return list(unique)[:limit] or ["the question"]


def _fill(template: str, words: list[str], rng: random.Random) -> str:
    kw, kw2 = rng.sample(words, 2) if len(words) > 1 else (words[0], words[0])
    topic = " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"
    return template.format(kw=kw, kw2=kw2, topic=topic, Topic=_capitalize(topic))


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def _sentences(templates: tuple[str, ...], words: list[str], budget: int, rng: random.Random) -> list[str]:
    order = rng.sample(templates, len(templates))  # cycle through a shuffle so sentences rarely repeat
    sentences: list[str] = []
    while budget > 0:
        sentences.append(_fill(order[len(sentences) % len(order)], words, rng))
        budget -= _count_tokens(sentences[-1])
    return sentences


def good_text(words: list[str], target_tokens: int, rng: random.Random) -> str:
    """An opening, one bullet per key word, enough detail to reach the target, and a conclusion."""
    opening = _fill(rng.choice(_GOOD_OPENINGS), words, rng)
    bullets = "\n".join(f"- {_capitalize(_fill(rng.choice(_GOOD_POINTS), [word], rng))}" for word in words)
    closing = _fill(rng.choice(_GOOD_CLOSINGS), words, rng)
    budget = target_tokens - _count_tokens(f"{opening} {bullets} {closing}")
    details = " ".join(_sentences(_GOOD_DETAILS, words, budget, rng))
    return "\n\n".join(part for part in (opening, bullets, details, closing) if part)


def weak_text(words: list[str], target_tokens: int, rng: random.Random) -> str:
    first = _fill(_WEAK_SENTENCES[0], words, rng)
    rest = _sentences(_WEAK_SENTENCES[1:], words, target_tokens - _count_tokens(first), rng)
    return " ".join([first, *rest])


_LENGTH_FACTOR = {"simple": 0.6, "moderate": 1.0, "complex": 1.6}


def target_length(profile: ModelProfile, difficulty: Difficulty, good: bool, rng: random.Random) -> int:
    """Lognormal around the profile's median, longer for harder tasks; weak answers are a third as long."""
    median = profile.answer_tokens_median * _LENGTH_FACTOR[difficulty] * (1.0 if good else 0.3)
    drawn = median * math.exp(rng.gauss(0.0, profile.answer_tokens_sigma))
    return max(8, round(drawn))


def latent_quality(good: bool, rng: random.Random) -> float:
    mean, spread = (0.85, 0.07) if good else (0.30, 0.10)
    return round(min(1.0, max(0.0, rng.gauss(mean, spread))), 4)


def compose_answer(
    profile: ModelProfile,
    messages: tuple[Message, ...],
    difficulty: Difficulty,
    max_tokens: int,
    rng: random.Random,
    as_json: bool = False,
) -> Answer:
    """Draw whether the answer is good, then its text, length, quality and time to first token."""
    good = rng.random() < profile.good_probability(difficulty)
    words = key_words(last_user_text(messages))
    target = target_length(profile, difficulty, good, rng)
    text = good_text(words, target, rng) if good else weak_text(words, target, rng)
    text = json.dumps({"answer": text}) if as_json else text
    tokens = tuple(_TOKEN.findall(text))
    return Answer(
        tokens=tokens[:max_tokens],
        finish_reason="length" if len(tokens) > max_tokens else "stop",
        prompt_tokens=count_prompt_tokens(messages),
        difficulty=difficulty,
        good=good,
        quality=latent_quality(good, rng),
        ttft_seconds=profile.ttft_median_ms / 1000 * math.exp(rng.gauss(0.0, profile.ttft_sigma)),
        tokens_per_second=profile.tokens_per_second,
    )


def token_chunks(tokens: tuple[str, ...], size: int = 3) -> list[tuple[str, int]]:
    """Stream deltas of a few tokens each: (text, token count)."""
    return [("".join(tokens[i : i + size]), len(tokens[i : i + size])) for i in range(0, len(tokens), size)]
