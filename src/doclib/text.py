"""Text: display cleaning, search normalisation, language detection, stemming.

The same ``normalise`` runs on indexed text and on queries (EXTRACTION.md §4),
so whatever a PDF producer did to Arabic (presentation forms, lam-alef
ligatures, tatweel, harakat, bidi marks, glued Arabic/Latin runs) is undone
on both sides.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from functools import lru_cache

_ISOLATED_HARAKAT = re.compile("[\ufe70-\ufe7f]")
_BIDI_ZW = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad\u061c]")
_TATWEEL = "\u0640"
_HARAKAT = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_AR = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff"
_AR_LETTER = re.compile(f"[{_AR}]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_SPLIT_AR_OTHER = re.compile(f"(?<=[{_AR}])(?=[A-Za-z0-9\u00c0-\u024f])|"
                             f"(?<=[A-Za-z0-9\u00c0-\u024f])(?=[{_AR}])")
_WS = re.compile(r"\s+")
# Arabic-Indic (U+0660-0669) and Eastern Arabic-Indic (U+06F0-06F9) digits
# as ASCII digits: "١٩٩٨" in a report and "1998" in a question are one term
_DIGITS = str.maketrans({**{0x0660 + i: str(i) for i in range(10)},
                         **{0x06F0 + i: str(i) for i in range(10)}})
_ALEF = re.compile("[\u0622\u0623\u0625\u0671]")
_TOKEN = re.compile(r"\w+")
_CONTROL = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]")
# C1 controls (U+0080-U+009F) mean nothing in a text: a PDF font maps a
# glyph to one (LibreOffice's Amiri, U+0097 inside Arabic words) or a
# Windows-1252 text was read as Latin-1.  They are deleted, not spaced.
_C1 = re.compile("[\u0080-\u009f]")
# Private-use characters: symbol-font glyphs (Word's and PowerPoint's
# bullets are U+F0B7, U+F0A7, U+F0D8 ... in the Symbol and Wingdings fonts)
# and other unreadable code points.  One that starts a line is a bullet.
_PUA_BULLET = re.compile("^([ \t]*)[\uf000-\uf0ff][ \t]*", re.M)
_PUA = re.compile("[\ue000-\uf8ff]")
_PRESENTATION = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")

# Arabic stop words (after normalise: alef folded, ى->ي, ة->ه) and English ones.
STOPWORDS = frozenset(
    """
    a an the of in on at to for from by with and or but is are was were be been being this that
    these those it its as which who whom what when where why how do does did not no so than then
    there their they them he she his her we our you your i me my can could will would should may
    might has have had about into over under also any all each such only own same other more most
    في من الي علي عن ان او ام ثم لا ما هذا هذه ذلك تلك التي الذي الذين هو هي هم هن كان كانت يكون
    مع عند قد لقد كل بعض غير بين حتي اذا لم لن ولا وقد وهو وهي وفي ومن به بها له لها فيه فيها منه
    منها عليه عليها الا اي انه انها كما وكان ضمن نحو لدي
    """.split()
)


def clean_display(text: str) -> str:
    """Text as stored for display: NFKC (folds presentation forms), no bidi or
    control characters (C0 become spaces, C1 are deleted), no private-use
    characters (a symbol-font bullet that starts a line becomes "• "),
    harakat kept, whitespace tidied but line breaks kept."""
    text = _ISOLATED_HARAKAT.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = _BIDI_ZW.sub("", text)
    text = _C1.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _PUA_BULLET.sub(lambda m: m.group(1) + "\u2022 ", text)
    text = _PUA.sub(" ", text)
    text = _SPLIT_AR_OTHER.sub(" ", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return text.strip()


def strip_bidi(text: str) -> str:
    """Remove bidi and zero-width controls (used on names and titles)."""
    return _BIDI_ZW.sub("", text)


@lru_cache(maxsize=4096)
def _normalise_cached(text: str) -> str:
    return _normalise(text)


def _normalise(text: str) -> str:
    text = _ISOLATED_HARAKAT.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_DIGITS)
    text = _BIDI_ZW.sub("", text)
    text = text.replace(_TATWEEL, "")
    text = _HARAKAT.sub("", text)
    text = _ALEF.sub("\u0627", text).replace("\u0649", "\u064a").replace("\u0629", "\u0647")
    text = _SPLIT_AR_OTHER.sub(" ", text)
    text = _WS.sub(" ", text)
    return text.casefold().strip()


def normalise(text: str) -> str:
    """Search normalisation, identical for documents and queries."""
    if len(text) < 512:
        return _normalise_cached(text)
    return _normalise(text)


def tokens(text: str) -> list[str]:
    """Word tokens of already-normalised text."""
    return _TOKEN.findall(text)


@lru_cache(maxsize=2)
def _stemmer(lang: str):  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer(lang)


def is_arabic_token(tok: str) -> bool:
    return bool(_AR_LETTER.match(tok))


def stem_tokens(toks: Iterable[str], drop_stopwords: bool = True) -> list[str]:
    """Stem each token with the Snowball stemmer of its script (Arabic or English)."""
    ar, en = _stemmer("arabic"), _stemmer("english")
    out = []
    for t in toks:
        if drop_stopwords and t in STOPWORDS:
            continue
        if is_arabic_token(t):
            s = ar.stemWord(t)
            # Snowball's Arabic stemmer can reduce a word to a lone letter; keep the word then.
            out.append(s if len(s) >= 2 else t)
        else:
            out.append(en.stemWord(t))
    return out


def stem_terms(text: str) -> list[str]:
    """Raw text -> normalised, Snowball-stemmed words (for highlighting, and
    the reference BM25 of the quality benchmark)."""
    return stem_tokens(tokens(normalise(text)))


@lru_cache(maxsize=65536)
def word_stem(word: str) -> str | None:
    """The stem of one displayed word (None for stop words); cached, as
    highlighting asks for every word of every shown passage."""
    stems = stem_terms(word)
    return stems[0] if stems else None


# Version of the lexical index terms; the Library rebuilds the lexical index
# when the stored version differs.
LEXICAL_VERSION = "3"
ARABIC_GRAM = 4


def _arabic_grams(word: str) -> list[str]:
    """Character 4-grams of an Arabic word with '0' marking its edges (digits
    are token characters for FTS5, and no Arabic word contains them)."""
    if len(word) <= 2:
        return [word]
    w = f"0{word}0"
    return [w[i:i + ARABIC_GRAM] for i in range(len(w) - ARABIC_GRAM + 1)]


def lexical_terms(text: str) -> list[str]:
    """Raw text -> lexical index terms, identical for documents and queries:
    English words Snowball-stemmed; Arabic words as character 4-grams, which
    match across clitics and inflections better than Snowball's Arabic stemmer
    (measured: README, "Search quality")."""
    en = _stemmer("english")
    out: list[str] = []
    for t in tokens(normalise(text)):
        if t in STOPWORDS:
            continue
        if is_arabic_token(t):
            out.extend(_arabic_grams(t))
        else:
            out.append(en.stemWord(t))
    return out


def script_counts(text: str) -> tuple[int, int]:
    """(Arabic letters, Latin letters) in text."""
    return len(_AR_LETTER.findall(text)), len(_LATIN_LETTER.findall(text))


def detect_language(text: str) -> str:
    """'ar', 'en' or 'und' from the share of Arabic and Latin letters.

    doclib's corpora are Arabic and English; Latin-script text is taken as English.
    """
    ar, la = script_counts(text)
    if ar + la < 3:
        return "und"
    return "ar" if ar >= la else "en"


def document_languages(texts: Iterable[str]) -> list[str]:
    """Languages holding at least 15% of a document's letters, majority first."""
    ar = la = 0
    for t in texts:
        a, b = script_counts(t)
        ar += a
        la += b
    total = ar + la
    if total == 0:
        return []
    langs = sorted([("ar", ar), ("en", la)], key=lambda x: -x[1])
    return [lang for lang, n in langs if n / total >= 0.15]


def has_presentation_forms(text: str) -> bool:
    return bool(_PRESENTATION.search(text))


def reversal_guard(text: str) -> bool:
    """True when Arabic text looks logically ordered.

    Correct text has many tokens starting with the article 'ال' and few ending
    with 'لا'; visually ordered (reversed) text has it the other way round.
    """
    toks = [t for t in tokens(normalise(text)) if is_arabic_token(t)]
    starts = sum(1 for t in toks if t.startswith("ال") and len(t) > 3)
    ends = sum(1 for t in toks if t.endswith("لا") and len(t) > 3)
    if starts + ends < 10:
        return True
    return starts >= 2 * ends


_SENTENCE_END = re.compile(r"(?<=[.!?؟…])\s+|\n+")


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences (Latin and Arabic punctuation)."""
    parts = [p.strip() for p in _SENTENCE_END.split(paragraph)]
    return [p for p in parts if p]


# ------------------------------------------------------ names across scripts
# A name in an English question (Priestley, Turing, Warsaw) is written in
# Arabic letters in an Arabic document (بريستلي, تورنج, وارسو), where the
# lexical leg cannot see it.  Both are reduced to a consonant skeleton
# (vowels and the letters that mostly write vowels dropped, the consonants
# to coarse classes: b/p, t/d, k/g/q/j, s/z/sh, f/v, l, m, n, r), which
# survives transliteration well enough to be evidence: the share of a
# question's names whose skeleton an Arabic passage holds.  Measured on the
# realistic pool (README, "Names across scripts").
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_AR_WORD = re.compile(r"[\u0621-\u064a\u067e\u06a4\u06af]+")  # with پ ڤ گ
_AR_MARKS = re.compile(r"[\u064b-\u0652\u0640]")  # harakat and tatweel
_LATIN_GROUPS = (("sch", "S"), ("sh", "S"), ("ch", "S"), ("th", "T"), ("ph", "F"),
                 ("ck", "K"), ("qu", "K"), ("x", "KS"))
_LATIN_CLASS = {"b": "B", "p": "B", "t": "T", "d": "T", "k": "K", "c": "K", "q": "K",
                "g": "K", "j": "K", "s": "S", "z": "S", "f": "F", "v": "F", "l": "L",
                "m": "M", "n": "N", "r": "R"}
_ARABIC_CLASS = {"ب": "B", "پ": "B", "ت": "T", "ط": "T", "د": "T", "ض": "T", "ث": "T",
                 "ذ": "T", "ظ": "T", "ك": "K", "ق": "K", "غ": "K", "ج": "K", "خ": "K",
                 "گ": "K", "س": "S", "ص": "S", "ز": "S", "ش": "S", "ف": "F", "ڤ": "F",
                 "ل": "L", "م": "M", "ن": "N", "ر": "R"}
# the article and the particles written onto it
_ARABIC_ARTICLES = ("وال", "بال", "فال", "كال", "لل", "ال")
_REPEATS = re.compile(r"(.)\1+")
NAME_MIN_CONSONANTS = 3
# a skeleton this long reads as a name; a shorter one also meets common
# words (Zarqa's SRK is شارك, "took part", too): loanwords need it, names
# below it count half in the ranking and are not highlighted
NAME_SURE_CONSONANTS = 4


@lru_cache(maxsize=65536)
def _latin_skeleton(word: str) -> str:
    w = word.lower()
    for group, cls in _LATIN_GROUPS:
        w = w.replace(group, cls)
    return _REPEATS.sub(r"\1", "".join(_LATIN_CLASS.get(ch, ch if ch.isupper() else "")
                                        for ch in w))


@lru_cache(maxsize=65536)
def _arabic_skeletons(word: str) -> frozenset[str]:
    forms = {word} | {word[len(a):] for a in _ARABIC_ARTICLES
                      if word.startswith(a) and len(word) > len(a) + 2}
    return frozenset(_REPEATS.sub(r"\1", "".join(_ARABIC_CLASS.get(ch, "") for ch in f))
                     for f in forms)


def name_keys(question: str) -> frozenset[str]:
    """The skeletons of the names in an English question: its capitalised
    words after the first (of at least three consonants) and its other
    words of six letters or more (loanwords: oxygen, الأكسجين; of at least
    four, as shorter ones meet common Arabic words), stop words left out."""
    words = _LATIN_WORD.findall(question)
    out = set()
    for i, w in enumerate(words):
        name = i > 0 and w[0].isupper()
        if w.lower() in STOPWORDS or not (name or len(w) >= 6):
            continue
        key = _latin_skeleton(w)
        if len(key) >= (NAME_MIN_CONSONANTS if name else NAME_SURE_CONSONANTS):
            out.add(key)
    return frozenset(out)


def arabic_name_keys(passage: str) -> set[str]:
    """The skeletons of an Arabic passage's words (and of each without its
    article), to meet ``name_keys``."""
    out: set[str] = set()
    for w in set(_AR_WORD.findall(_AR_MARKS.sub("", passage))):
        out |= _arabic_skeletons(w)
    return out


def arabic_query_names(question: str) -> tuple[frozenset[str], ...]:
    """For an Arabic question: each word that may write a name or a
    loanword in Arabic letters (البرونكوس, Broncos), as its skeletons with
    and without the article; words of fewer than ``NAME_SURE_CONSONANTS``
    consonants and stop words left out (the reverse of ``name_keys``)."""
    out = []
    for w in dict.fromkeys(_AR_WORD.findall(_AR_MARKS.sub("", question))):
        if _normalise(w) in STOPWORDS:
            continue
        keys = _arabic_skeletons(w)
        # the article's L does not make a name: the word without it must
        # have the consonants (الكتاب is LKTB, but كتاب only KTB)
        if keys and min(map(len, keys)) >= NAME_SURE_CONSONANTS:
            out.append(keys)
    return tuple(out)


_LATIN_NAME = re.compile(r"(?<![A-Za-z])[A-Z][A-Za-z]*")


def latin_name_keys(passage: str) -> frozenset[str]:
    """The skeletons of an English passage's capitalised words (its names),
    to meet ``arabic_query_names`` (a word's skeleton is cached, a
    passage is not: a deleted document's text stays in no cache)."""
    return frozenset(map(_latin_skeleton, set(_LATIN_NAME.findall(passage))))


def question_names(question: str, language: str) -> tuple[frozenset[str], ...]:
    """A question's names, each as the skeletons that write it: an English
    question's ``name_keys`` (one each), an Arabic one's
    ``arabic_query_names``; none in another language."""
    if language == "en":
        return tuple(frozenset({k}) for k in sorted(name_keys(question)))
    return arabic_query_names(question) if language == "ar" else ()


def name_stems(passage: str, language: str, keys: AbstractSet[str]) -> set[str]:
    """The stems (``word_stem``) of a passage's words that write one of
    ``keys`` of at least ``NAME_SURE_CONSONANTS`` consonants: an Arabic
    passage's words (with or without the article), an English one's
    capitalised words.  What its highlight marks for them (a highlight is
    shown to the user: only what reads as a name)."""
    keys = frozenset(k for k in keys if len(k) >= NAME_SURE_CONSONANTS)
    if not keys or language not in ("ar", "en"):
        return set()
    if language == "ar":  # the words the highlight sees
        met = [w for w in set(_WORD.findall(passage))
               if _arabic_skeletons(_AR_MARKS.sub("", w)) & keys]
    else:
        met = [w for w in set(_LATIN_NAME.findall(passage)) if _latin_skeleton(w) in keys]
    return {s for s in map(word_stem, met) if s}


# ------------------------------------------------------------- highlighting
_WORD = re.compile(r"[\w\u0610-\u061a\u064b-\u065f\u0670\u0640]+")


# after html.escape, an entity is one token, so no word is found inside one
_ESCAPED_TOKEN = re.compile(f"&(?:amp|lt|gt|quot|#x27);|({_WORD.pattern})")


def highlight(passage: str, terms: set[str]) -> str:
    """HTML-escaped passage with <mark> around words whose stem is a query term."""
    escaped = html.escape(passage)
    if not terms:
        return escaped

    def mark(m: re.Match[str]) -> str:
        word = m.group(1)
        if word is None or word_stem(word) not in terms:
            return m.group(0)
        return f"<mark>{word}</mark>"

    return _ESCAPED_TOKEN.sub(mark, escaped)


def snippet(passage: str, terms: set[str], size: int) -> str:
    """A window of about ``size`` characters around the first matched word,
    cut at word boundaries, with ellipses; the whole passage if short."""
    if len(passage) <= size:
        return passage
    start = 0
    for m in _WORD.finditer(passage):
        if terms and word_stem(m.group(0)) in terms:
            start = max(0, m.start() - size // 4)
            break
    end = min(len(passage), start + size)
    if end == len(passage):
        start = max(0, end - size)
    if start > 0:
        cut = passage.find(" ", start)
        start = cut + 1 if 0 <= cut < start + 40 else start
    if end < len(passage):
        cut = passage.rfind(" ", start, end)
        end = cut if cut > start else end
    return ("… " if start > 0 else "") + passage[start:end].strip() + \
        (" …" if end < len(passage) else "")
