from doclib.text import (
    clean_display,
    detect_language,
    document_languages,
    has_presentation_forms,
    lexical_terms,
    normalise,
    reversal_guard,
    sentences,
)


def test_presentation_forms_and_lam_alef_fold():
    # "السلام" in presentation forms, with the lam-alef ligature U+FEFC
    assert normalise("\ufe8d\ufedf\ufeb4\ufefc\ufee1") == "السلام"
    assert normalise("\ufefb") == "لا"
    assert not has_presentation_forms(normalise("\ufefb\ufe8d"))


def test_tatweel_harakat_and_bidi_removed():
    assert normalise("التطرّف") == normalise("التطرف")
    assert normalise("مـــدينة") == normalise("مدينة")
    assert normalise("\u202bمدينة\u202c\u200f") == normalise("مدينة")


def test_isolated_harakat_removed_before_nfkc():
    # NFKC maps U+FE72 to space + mark; it must not split the word
    assert normalise("مندوب\ufe72ا") == normalise("مندوبا")


def test_alef_ya_ta_marbuta_folding_same_for_query_and_document():
    assert normalise("أحمد إلى مدرسة") == normalise("احمد الي مدرسه")


def test_arabic_latin_boundary_split():
    assert normalise("مدينةAarhus من170") == "مدينه aarhus من 170"


def test_casefold_and_whitespace():
    assert normalise("  The   SUMMIT\n") == "the summit"


def test_stemming_both_languages():
    assert lexical_terms("workshops") == lexical_terms("workshop")
    assert lexical_terms("المدارس")  # Arabic stemmer yields a term
    assert "the" not in " ".join(lexical_terms("the city"))


def test_language_detection():
    assert detect_language("This is English text") == "en"
    assert detect_language("هذا نص عربي") == "ar"
    assert detect_language("12 34") == "und"
    assert document_languages(["نص عربي طويل جدا", "short"]) == ["ar", "en"]


def test_reversal_guard():
    good = " ".join(["المدينة", "الشرطة", "القمة"] * 10)
    reversed_text = " ".join(w[::-1] for w in good.split())
    assert reversal_guard(good)
    assert not reversal_guard(reversed_text)


def test_clean_display_keeps_harakat_removes_controls():
    assert clean_display("\u202bالتطرّف\u202c") == "التطرّف"
    assert "\n" in clean_display("a\nb")


def test_sentences():
    assert sentences("One. Two? ثلاثة؟ أربعة.") == ["One.", "Two?", "ثلاثة؟", "أربعة."]


def test_lexical_terms_arabic_grams_and_english_stems():
    from doclib.text import stem_terms

    assert lexical_terms("workshops") == stem_terms("workshop") == ["workshop"]
    grams = lexical_terms("والمدارس")
    assert "مدار" in grams and all(len(g) == 4 for g in grams)
    # a clitic-prefixed form shares most grams with the bare word
    assert len(set(lexical_terms("بالمدارس")) & set(lexical_terms("المدارس"))) >= 4
    assert lexical_terms("في") == []  # stop word


def test_arabic_indic_digits_are_one_term_with_ascii_digits():
    # a report written "١٩٩٨" or "۲۰۲۵" and a question typing 1998 or 2025
    assert normalise("عام١٩٩٨ و ۲۰۲۵") == "عام 1998 و 2025"
    assert "1998" in lexical_terms("قمة عمّان ١٩٩٨") and "1998" in lexical_terms("summit 1998")
    assert clean_display("عام ١٩٩٨") == "عام ١٩٩٨"  # shown as written


def test_names_meet_across_scripts_by_their_consonants():
    from doclib.text import arabic_name_keys, name_keys

    q = name_keys("In what year did Joseph Priestley recognize oxygen in Warsaw?")
    held = arabic_name_keys("اكتشف جوزيف بريستلي الأكسجين في مختبره")
    assert {"KSF", "BRSTL", "KSKN"} <= q & held  # Joseph, Priestley, oxygen (its article off)
    assert "RS" not in q  # Warsaw: two consonants, too short to be evidence
    assert name_keys("Turing machines") == {"TRNK", "MSNS"}  # "machines" has six letters
    # stop words, short words and the first word (capitalised by position) are not names
    assert name_keys("What is the city of the summit?") == frozenset()
    assert name_keys("") == frozenset() and arabic_name_keys("no arabic here") == set()


def test_an_arabic_questions_names_meet_an_english_passages_names():
    from doclib.text import arabic_query_names, latin_name_keys

    words = arabic_query_names("كم نقطة سجلها البرونكوس في مباراة بيتسبرغ؟")
    held = latin_name_keys("The Broncos scored late against Pittsburgh on Sunday.")
    assert sum(bool(keys & held) for keys in words) == 2  # Broncos, Pittsburgh
    # short words (نقطة, سجلها, مباراة: three consonants) and stop words are not names
    assert len(words) == 2
    assert arabic_query_names("في من الى") == () and arabic_query_names("") == ()
    # an English passage's lower-case words are not its names
    assert not any(keys & latin_name_keys("broncos scored against pittsburgh")
                   for keys in words)
    # what the highlight marks: the stems of the passage's words that meet them
    from doclib.text import highlight, name_stems, word_stem

    passage = "The Broncos scored late against Pittsburgh on Sunday."
    stems = name_stems(passage, "en", frozenset().union(*words))
    assert stems == {word_stem("Broncos"), word_stem("Pittsburgh")}
    assert "<mark>Broncos</mark>" in highlight(passage, stems)
    assert name_stems(passage, "en", frozenset()) == set()


def test_a_passage_marks_the_words_that_write_a_long_name():
    from doclib.text import highlight, name_keys, name_stems, word_stem

    passage = "شارك العالم جوزيف بريستلي في تجربة في الزرقاء"
    keys = name_keys("Did Joseph Priestley work in Zarqa?")
    marked = highlight(passage, name_stems(passage, "ar", keys))
    assert "<mark>بريستلي</mark>" in marked
    # three consonants (Zarqa, Joseph) meet common words (شارك): not marked
    assert "<mark>" not in marked.replace("<mark>بريستلي</mark>", "")
    assert name_stems(passage, "ar", frozenset()) == set() and word_stem("بريستلي")


def test_names_are_read_in_voweled_words_and_with_persian_letters():
    from doclib.text import arabic_name_keys, highlight, name_keys, name_stems

    assert "BRSTL" in arabic_name_keys("بْرِيسْتْلِي")  # harakat do not split the word
    assert "FLTR" in arabic_name_keys("ڤولتير")  # ڤ is a letter of the word
    voweled = "اكتشف بْرِيسْتْلِي الغاز"
    assert "<mark>بْرِيسْتْلِي</mark>" in highlight(
        voweled, name_stems(voweled, "ar", name_keys("Did Priestley find it?")))
