from doclib.chunk import chunk_pages
from doclib.config import ChunkConfig
from doclib.models import Page


def words(n: int, stem: str = "w") -> str:
    return " ".join(f"{stem}{i}" for i in range(n))


def test_chunks_keep_page_provenance_and_never_cross_pages():
    pages = [Page(1, "First page sentence. " * 30), Page(2, "ثانية جملة. " * 30, source="ocr")]
    drafts = chunk_pages(pages, ChunkConfig(max_words=40, min_words=5))
    assert {d.page_start for d in drafts} == {1, 2}
    assert all(d.page_start == d.page_end for d in drafts)
    assert [d.ordinal for d in drafts] == list(range(len(drafts)))
    assert {d.language for d in drafts if d.page_start == 2} == {"ar"}
    assert {d.source for d in drafts if d.page_start == 2} == {"ocr"}


def test_sentence_boundaries_respected_and_size_bounded():
    sents = [f"Sentence number {i} has some words in it." for i in range(50)]
    drafts = chunk_pages([Page(1, " ".join(sents))], ChunkConfig(max_words=50, min_words=10,
                                                                 overlap_sentences=1))
    for d in drafts:
        assert d.text.startswith("Sentence") and d.text.endswith(".")
        assert len(d.text.split()) <= 50 + 10  # a merged short tail may exceed a little


def test_overlap_repeats_last_sentence():
    sents = [f"S{i} " + words(9, f"x{i}_") + "." for i in range(12)]
    drafts = chunk_pages([Page(1, " ".join(sents))], ChunkConfig(max_words=30, min_words=1,
                                                                 overlap_sentences=1))
    assert len(drafts) > 2
    for a, b in zip(drafts, drafts[1:], strict=False):
        last = a.text.split(". ")[-1].rstrip(".")
        assert b.text.startswith(last)


def test_long_sentence_is_cut_at_words():
    drafts = chunk_pages([Page(1, words(300))], ChunkConfig(max_words=100, min_words=10,
                                                            overlap_sentences=0))
    assert [len(d.text.split()) for d in drafts] == [100, 100, 100]


def test_short_tail_merged_and_empty_pages_skipped():
    text = words(40) + ". tail end."
    drafts = chunk_pages([Page(1, text), Page(2, "   ")],
                         ChunkConfig(max_words=40, min_words=5, overlap_sentences=0))
    assert len(drafts) == 1 and drafts[0].text.endswith("tail end.")


def test_paragraphs_are_boundaries():
    drafts = chunk_pages([Page(1, "alpha beta\ngamma delta")], ChunkConfig(max_words=3,
                                                                        min_words=1,
                                                                        overlap_sentences=0))
    assert [d.text for d in drafts] == ["alpha beta", "gamma delta"]
