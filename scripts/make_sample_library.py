"""Regenerate the sample library in library/sample/ with real producers:
headless Chromium prints the two PDF reports from HTML, python-pptx writes the
bilingual presentation, python-docx the member-only minutes.

The texts are written for doclib (fictional event, fictional people).
Run: .venv/bin/python scripts/make_sample_library.py
"""

from __future__ import annotations

import html
import subprocess
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "library" / "sample"

EN_REPORT = [
    ("h1", "Regional Summit on Local Prevention, Amman 2025: Summary Report"),
    ("p", "From 14 to 16 October 2025, the Greater Amman Municipality hosted the regional "
          "summit of the Network of Resilient Cities. 212 delegates from 38 cities in 11 "
          "countries met to compare how local governments prevent violent extremism and "
          "support communities after an incident."),
    ("h2", "Why a local approach"),
    ("p", "Mayors and city practitioners repeated one message: national strategies work only "
          "when schools, social workers, youth centres, religious leaders and the local police "
          "share information and act early. Cities are closest to the families who first notice "
          "that a young person is withdrawing or being drawn into a violent group."),
    ("h2", "Workshops"),
    ("p", "Workshop 1, early prevention in schools, examined teacher training and referral "
          "pathways. Teachers from Irbid described a programme in which counsellors meet every "
          "pupil flagged by two or more teachers within ten days."),
    ("p", "Workshop 2, working with families, discussed home visits by trained social workers. "
          "Participants agreed that mothers are often the first to recognise warning signs, but "
          "rarely know whom to call."),
    ("p", "Workshop 3, online radicalisation and counter-narratives, showed how municipal youth "
          "councils produce short videos with young people from their own neighbourhoods. "
          "Recruiters target lonely teenagers on gaming platforms late at night."),
    ("p", "Workshop 4 addressed the reintegration of returning prisoners: housing, a job and "
          "a mentor in the first six months reduce the risk of reoffending."),
    ("h2", "Evaluation"),
    ("p", "91 percent of participants rated the summit useful or very useful. 27 cities asked "
          "for a follow-up exchange visit. The next summit will take place in Rabat in 2026."),
]

AR_REPORT = [
    ("h1", "تقرير ورشة العمل مع الأسر: قمة عمّان الإقليمية 2025"),
    ("p", "ناقشت ورشة العمل الثانية في قمة عمّان الإقليمية للوقاية المحلية دور الأسرة في حماية "
          "الشباب من الانجراف نحو التطرف العنيف. شارك في الورشة أربعون من الأخصائيين الاجتماعيين "
          "وممثلي البلديات والجمعيات النسائية من الأردن والمغرب وتونس ولبنان."),
    ("h2", "العلامات المبكرة"),
    ("p", "أكد المشاركون أن الأمهات غالباً ما يلاحظن أولى علامات الخطر: الانعزال المفاجئ، وترك "
          "الأصدقاء القدامى، وقضاء ساعات طويلة على الإنترنت في الليل. لكن معظم الأسر لا تعرف "
          "الجهة التي يمكن الاتصال بها دون الخوف من الشرطة."),
    ("h2", "الزيارات المنزلية"),
    ("p", "عرضت بلدية الزرقاء تجربة الزيارات المنزلية التي يقوم بها أخصائيون اجتماعيون مدرّبون. "
          "تزور الفرق ثلاثمائة أسرة سنوياً، وتقدم الإرشاد النفسي والدعم المدرسي وفرص التدريب "
          "المهني للشباب العاطلين عن العمل."),
    ("h2", "التوصيات"),
    ("p", "أوصت الورشة بإنشاء خط هاتفي بلدي سري للأسر، وتدريب المعلمين والأئمة على الإحالة "
          "المبكرة، وإشراك الشباب أنفسهم في تصميم البرامج. كما دعت إلى تبادل الخبرات بين المدن "
          "العربية قبل قمة الرباط سنة 2026."),
]

SLIDES = [
    ("التطرف عبر الإنترنت والسرديات البديلة | Online radicalisation and counter-narratives",
     ["Workshop 3, Amman regional summit, 15 October 2025",
      "الورشة الثالثة، قمة عمّان الإقليمية"],
     "Introduce the speakers from the Amman and Sousse youth councils."),
    ("How recruiters reach teenagers",
     ["Gaming platforms and private chat groups, often late at night",
      "Lonely teenagers who feel excluded at school are targeted first",
      "Messages promise belonging, adventure and revenge"],
     "Ask the room which platforms their own children use."),
    ("السرديات البديلة التي يصنعها الشباب",
     ["مجالس الشباب البلدية تنتج مقاطع فيديو قصيرة من أحيائها",
      "رسائل إيجابية عن الانتماء والعمل التطوعي",
      "تدريب الشباب على التحقق من الأخبار الكاذبة"],
     "اعرض مقطع الفيديو من سوسة ومدته دقيقتان."),
    ("Results | النتائج",
     ["1.2 million views of youth-made videos in six months",
      "ارتفاع عدد المتطوعين في مراكز الشباب بنسبة 40 في المئة",
      "Referral of 18 young people to mentoring programmes"],
     "Stress that numbers of views are not the same as prevention."),
]

MINUTES = [
    ("Heading 1", "Steering Committee of the Network of Resilient Cities: Minutes"),
    (None, "Meeting of 20 November 2025, online. Confidential: for members only."),
    ("Heading 2", "Present"),
    (None, "The chair (Rabat), the vice-chair (Amman), representatives of Sousse, Irbid, "
           "Zarqa and Tripoli, and the secretariat."),
    ("Heading 2", "1. Budget"),
    (None, "The committee approved the budget reallocation for the Zarqa home-visit pilot: "
           "40,000 euros are moved from travel to the training of social workers."),
    ("Heading 2", "2. Rabat summit 2026"),
    (None, "The secretariat will draft the programme. Workshops on schools, families and "
           "reintegration after release will continue; a new workshop on mental health "
           "services is proposed."),
    ("Heading 2", "٣. ملاحظات باللغة العربية"),
    (None, "وافقت اللجنة التوجيهية على إعادة تخصيص الميزانية لمشروع الزيارات المنزلية في "
           "الزرقاء، وطلبت تقريراً عن النتائج قبل قمة الرباط."),
]


def html_page(blocks: list[tuple[str, str]], lang: str) -> str:
    direction = "rtl" if lang == "ar" else "ltr"
    font = "'Noto Naskh Arabic', 'Noto Sans Arabic'" if lang == "ar" else "'Noto Serif'"
    body = "\n".join(f"<{t}>{html.escape(x)}</{t}>" for t, x in blocks)
    return (f"<!doctype html><html lang='{lang}' dir='{direction}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(blocks[0][1])}</title><style>body{{font-family:{font};"
            "font-size:13pt;line-height:1.5;margin:2cm}}</style></head>"
            f"<body>{body}</body></html>")


def print_pdf(html_text: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "page.html"
        src.write_text(html_text, encoding="utf-8")
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
                        f"--print-to-pdf={target}", src.as_uri()],
                       check=True, capture_output=True, timeout=120)


def make_pptx(target: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    for title, bullets, notes in SLIDES:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for b in bullets[1:]:
            body.add_paragraph().text = b
        slide.notes_slide.notes_text_frame.text = notes
    table_slide = prs.slides.add_slide(prs.slide_layouts[5])
    table_slide.shapes.title.text = "Platforms | المنصات"
    tbl = table_slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(8), Inches(1.5)).table
    for r, (a, b) in enumerate([("Platform", "المنصة"), ("Gaming chat", "دردشة الألعاب"),
                                ("Short video", "الفيديو القصير")]):
        tbl.cell(r, 0).text, tbl.cell(r, 1).text = a, b
    prs.core_properties.title = "Online radicalisation and counter-narratives"
    prs.save(target)


def make_docx(target: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Steering Committee minutes, 20 November 2025"
    d.sections[0].header.paragraphs[0].text = "Network of Resilient Cities — members only"
    for style, text in MINUTES:
        d.add_paragraph(text, style=style) if style else d.add_paragraph(text)
    t = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("Action", "Owner"), ("Zarqa pilot report", "Zarqa"),
                                ("Rabat programme draft", "Secretariat")]):
        t.cell(r, 0).text, t.cell(r, 1).text = a, b
    d.save(target)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    print_pdf(html_page(EN_REPORT, "en"), OUT / "amman-2025-summary-report.pdf")
    print_pdf(html_page(AR_REPORT, "ar"), OUT / "تقرير-ورشة-الأسر.pdf")
    make_pptx(OUT / "workshop3-online-radicalisation.pptx")
    make_docx(OUT / "steering-committee-minutes-2025-11.docx")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
