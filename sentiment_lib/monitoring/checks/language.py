"""Is a text English? A deliberately simple guess from its script and its function words, for the drift
explanation's ``non_english_share`` descriptor (no language-id library: one more dependency for one number)."""

from __future__ import annotations

from sentiment_lib import text_features as tf

# Function words make up 40-50% of running English text, whatever its topic. Texts in other Latin-script
# languages share few of them: "Der Flug war leider verspätet" has none.
_FUNCTION_WORDS = """
    a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your yours
    i'm it's don't can't didn't isn't won't dont cant didnt isnt wont i've you're youre get got n't
"""
ENGLISH_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
MIN_WORDS_TO_JUDGE = 5  # fewer words than this are too few to tell a language by its function words
MAX_FUNCTION_WORD_SHARE = 0.15  # below this share of English function words a text is taken as not English
# measured on the data sets: about 2% of SST-2 training phrases and 1% of airline tweets (headline-like
# texts: "shares rise on Q4 financial results") fall below it; French, Spanish and German sentences do


def looks_english(text: str) -> bool:
    """A deliberately simple language guess (no language-id library), True for English or undecidable text.

    A text is *not* English when most of its letters are outside the Latin script (Cyrillic, CJK, Arabic...),
    or when it has at least ``MIN_WORDS_TO_JUDGE`` words (URLs, @mentions and #hashtags left out) of which
    fewer than ``MAX_FUNCTION_WORD_SHARE`` are common English function words. Short texts are given the
    benefit of the doubt: "great flight!" says nothing about its language.
    """
    letters = [c for c in text if c.isalpha()]
    if letters and sum(not _is_latin(c) for c in letters) > len(letters) / 2:
        return False
    words = [w.lower() for w in tf.WORD.findall(tf.MENTION.sub(" ", tf.HASHTAG.sub(" ", tf.URL.sub(" ", text))))]
    if len(words) < MIN_WORDS_TO_JUDGE:
        return True
    return sum(w in ENGLISH_FUNCTION_WORDS for w in words) / len(words) >= MAX_FUNCTION_WORD_SHARE


def _is_latin(letter: str) -> bool:
    # Basic Latin to Latin Extended-B (accents included: é, ß, ł), and Latin Extended Additional (ạ, ẞ)
    return ord(letter) < 0x250 or 0x1E00 <= ord(letter) <= 0x1EFF
