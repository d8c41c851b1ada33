"""What a text contains, as regular expressions and yes/no questions: URLs, @mentions, #hashtags, emoji,
negation, contrast, questions, shouting. The drift explanation's descriptors and the error-analysis slices
both ask them, so both mean the same thing by "a text with an @mention"."""

from __future__ import annotations

import re

URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w.])@\w+")  # not an e-mail address: nothing word-like before the @
HASHTAG = re.compile(r"(?<![\w&])#\w*[^\W\d_]")  # a letter in it ("#1" is a rank); "&#39;" is an HTML entity
# pictographs, emoticons, transport, supplemental symbols; miscellaneous symbols and dingbats (❤, ☺, ✈); ⭐
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b50\u2b55]")
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # letters only, with one inner apostrophe (don't, it's)

NEGATION_WORDS = frozenset({"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "hardly"})
CONTRAST_WORDS = frozenset({"but", "however", "although", "though", "yet", "despite", "whereas", "nevertheless"})
_SHOUTED = re.compile(r"\b[A-Z]{3,}\b")  # a word of three or more capitals ("NEVER"), not "I" or "OK"


def words(text: str) -> list[str]:
    """The words of ``text`` in lower case (letters and inner apostrophes only)."""
    return [w.lower() for w in WORD.findall(text)]


def has_negation(text: str) -> bool:
    found = words(text)
    return any(w in NEGATION_WORDS or w.endswith("n't") for w in found)


def has_contrast(text: str) -> bool:
    return any(w in CONTRAST_WORDS for w in words(text))


def is_question(text: str) -> bool:
    return "?" in text


def has_url(text: str) -> bool:
    return bool(URL.search(text))


def has_mention(text: str) -> bool:
    return bool(MENTION.search(text))


def has_emoji(text: str) -> bool:
    return bool(EMOJI.search(text))


def shouts(text: str) -> bool:
    """A word in capitals, outside URLs and @mentions ("@SouthwestAir" and "http://T.CO" do not count)."""
    return bool(_SHOUTED.search(MENTION.sub(" ", URL.sub(" ", text))))
