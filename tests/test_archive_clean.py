"""A mail's own words: quotes, signatures, footers and greetings out, on the tricky cases."""

from __future__ import annotations

from email.message import EmailMessage

from dastbot.archive.clean import forwarded_question, html_to_text, own_text
from dastbot.archive.parse import Mail, parse
from dastbot.archive.sources import Raw

QUESTION = "My task 12345678 is exhausted after 5 attempts. What now?"


def test_top_posting_gmail_style_keeps_only_the_new_text() -> None:
    body = (
        "Retry it with pbook, the site had a transient problem.\n\n"
        "Cheers,\nAnna\n\n"
        "On Tue, 3 Mar 2015 10:00:00 +0100, Bob Smith <bob@uni.example> wrote:\n"
        f"> Hi,\n>\n> {QUESTION}\n>\n> Bob\n"
    )
    assert own_text(body) == "Retry it with pbook, the site had a transient problem."


def test_top_posting_outlook_style_drops_the_unquoted_original() -> None:
    body = (
        "Please renew your proxy with voms-proxy-init -voms atlas.\n\n"
        "Best regards,\nBruno\n\n"
        "-----Original Message-----\n"
        "From: Bob Smith [mailto:bob@uni.example]\n"
        "Sent: Tuesday, March 3, 2015 10:00 AM\n"
        "To: hn-atlas-dist-analysis-help@cern.ch\n"
        "Subject: proxy fails\n\n"
        "voms-proxy-init says my certificate is not valid.\n"
    )
    assert own_text(body) == "Please renew your proxy with voms-proxy-init -voms atlas."


def test_bottom_posting_keeps_the_text_under_the_quote_and_drops_the_quoted_signature() -> None:
    body = (
        "On Tue, 3 Mar 2015 10:00:00 +0100, Bob Smith <bob@uni.example> wrote:\n"
        f"> {QUESTION}\n>\n> Bob\n> \n> -- \n> Bob Smith\n> Uni Example\n>\n"
        "> _______________________________________________\n"
        "> hn-atlas-dist-analysis-help mailing list\n\n"
        "Exhausted means JEDI stopped retrying; fix the error and retry the task.\n\n"
        "-- \nAnna Shifter\nCERN\n"
    )
    assert own_text(body) == (
        "Exhausted means JEDI stopped retrying; fix the error and retry the task."
    )


def test_inline_replies_keep_every_answer_and_a_thanks_sentence_is_not_a_signature() -> None:
    body = (
        "Hi,\n\n> Did you retry the task?\n\n"
        "Thanks, I tried that but it still fails with the same error.\n\n"
        "> Which site?\n\nBNL-ATLAS, every time.\n\nThanks,\nBob\n"
    )
    assert own_text(body) == (
        "Thanks, I tried that but it still fails with the same error.\n\nBNL-ATLAS, every time."
    )


def test_signatures_dash_dash_sign_off_and_phone_footer_go() -> None:
    assert own_text(f"{QUESTION}\n\n-- \nBob Smith\nUni Example\n") == QUESTION
    assert own_text(f"{QUESTION}\n\nMany thanks,\nBob\n") == QUESTION
    assert own_text(f"{QUESTION}\n\nSent from my iPhone\n") == QUESTION


def test_a_list_footer_goes_even_without_a_signature() -> None:
    body = (
        f"{QUESTION}\n"
        "_______________________________________________\n"
        "hn-atlas-dist-analysis-help mailing list\n"
        "https://lists.example/mailman/listinfo/hn-atlas-dist-analysis-help\n"
    )
    assert own_text(body) == QUESTION


def test_a_greeting_line_goes_but_a_one_line_mail_stays() -> None:
    assert own_text(f"Dear DAST experts,\n\n{QUESTION}\n") == QUESTION
    assert own_text(f"Добрый день!\n{QUESTION}\n") == QUESTION
    assert own_text("Thanks, that solved it!\n") == "Thanks, that solved it!"


def test_a_hyphen_list_in_a_question_is_not_a_signature() -> None:
    body = "I tried:\n- voms-proxy-init -voms atlas\n- rucio whoami\nboth fail.\n"
    assert own_text(body) == "I tried:\n- voms-proxy-init -voms atlas\n- rucio whoami\nboth fail."


def test_a_forwarded_question_is_the_note_and_the_forwarded_text() -> None:
    body = (
        "Forwarding this to the list so that it is tracked.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Bob Smith <bob@uni.example>\n"
        "Date: Mon, 2 Mar 2015 18:00:00 +0100\n"
        "Subject: task exhausted\n"
        "To: anna@cern.example\n\n"
        f"Hi Anna,\n\n{QUESTION}\n\nBob\n"
    )
    assert forwarded_question("Fwd: task exhausted", body) == (
        f"Forwarding this to the list so that it is tracked.\n\n{QUESTION}\n\nBob"
    )
    assert forwarded_question("task exhausted", QUESTION) is None


def test_a_question_forwarded_as_an_attached_mail_reads_like_an_inline_forward() -> None:
    inner = EmailMessage()
    inner["From"] = "Bob Smith <bob@uni.example>"
    inner["Subject"] = "task exhausted"
    inner.set_content(f"{QUESTION}\n")
    outer = EmailMessage()
    outer["From"] = "Anna <anna@cern.example>"
    outer["Subject"] = "Fwd: task exhausted"
    outer["Date"] = "Tue, 3 Mar 2015 10:00:00 +0100"
    outer["Message-ID"] = "<fwd-1@cern.example>"
    outer.set_content("See the attached question.\n")
    outer.add_attachment(inner)
    mail = parse(Raw("test", None, outer.as_bytes()))
    assert isinstance(mail, Mail)
    assert forwarded_question(mail.subject, mail.text) == (
        f"See the attached question.\n\n{QUESTION}"
    )


def test_html_only_mail_becomes_text_and_its_blockquote_is_a_quote() -> None:
    html = (
        "<html><body><div>The site is in downtime until 18:00.</div><div><br></div>"
        "<div>On Tue, Bob wrote:</div><blockquote><div>Are jobs failing at DESY-HH?</div>"
        "</blockquote><div>-----Original Message-----</div></body></html>"
    )
    text = html_to_text(html)
    assert "> Are jobs failing at DESY-HH?" in text
    assert "-----Original Message-----" in text  # the Markdown escape is undone
    assert own_text(text) == "The site is in downtime until 18:00."
