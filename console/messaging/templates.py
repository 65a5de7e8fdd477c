"""Per-practice message templates: the ask (with the referral link) and the loop-closure thank-you.

Templates use `$name` placeholders (string.Template) so a manager's edit can never run code.
The HTML part is autoescaped: every value is HTML-escaped before it is substituted, and the
template itself may use only a small set of tags (`HTML_TAGS`), links only to a placeholder or an
https/mailto address. A template that would leave out the referral link or the way to opt out
(the unsubscribe link in email, "STOP" in a text) is refused (`validate_ask_templates`); one
stored before that rule gets the missing part appended when it is rendered. The practice's
`share_blurb` is the short shareable description a patient can forward to a friend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from string import Template

from sqlmodel import Session

from console.contact.opt_out import SMS_STOP_WORD
from console.identity import audit
from console.models.outreach import OutreachSettings
from console.models.practice import PracticeSettings
from console.platform.errors import UserError

DEFAULT_ASK_EMAIL_SUBJECT = "A small favour from $practice_name"
DEFAULT_ASK_EMAIL_BODY = (
    "Hi $first_name,\n\n"
    "We hope you are enjoying your results. If you know someone who could benefit too, "
    "you can introduce them to us in a few seconds here:\n\n$link\n\n"
    "$share_blurb\n\n"
    "Thank you,\n$practice_name\n\n"
    "Unsubscribe: $unsubscribe_url"
)
DEFAULT_ASK_EMAIL_HTML = (
    "<p>Hi $first_name,</p>\n"
    "<p>We hope you are enjoying your results. If you know someone who could benefit too, "
    "you can introduce them to us in a few seconds:</p>\n"
    "<p><a href=\"$link\">Introduce a friend to $practice_name</a></p>\n"
    "<p>$share_blurb</p>\n"
    "<p>Thank you,<br>$practice_name</p>\n"
    "<p><small>You receive this email as a patient of $practice_name. "
    "<a href=\"$unsubscribe_url\">Unsubscribe</a></small></p>"
)
DEFAULT_ASK_SMS_BODY = (
    "$practice_name: hi $first_name, know someone who'd love results like yours? "
    "Introduce them here: $link  Reply STOP to opt out."
)
DEFAULT_LOOP_CLOSE_BODY = (
    "Hi $first_name, thank you for introducing a friend to $practice_name. $outcome "
    "We are grateful for your trust."
)
OPT_OUT_CONFIRMATION = (
    "$practice_name: you will receive no further messages from us. Thank you."
)
SMS_OPT_OUT_SUFFIX = f" Reply {SMS_STOP_WORD} to opt out."
EMAIL_UNSUBSCRIBE_FOOTER = "\n\nUnsubscribe: $unsubscribe_url"
HTML_UNSUBSCRIBE_FOOTER = "\n<p><small><a href=\"$unsubscribe_url\">Unsubscribe</a></small></p>"
# The most a referrer may hear about a friend; never treatment or clinical details.
OUTCOME_PHRASES = {
    "booked": "Your friend has booked a consultation with us.",
    "treatment": "Your friend has started treatment with us.",
    "contacted": "We have been in touch with your friend.",
}
OUTCOME_DETAILS = ("none", "booked", "treatment")

ASK_PLACEHOLDERS = ("practice_name", "first_name", "link", "share_blurb", "unsubscribe_url")
SMS_PLACEHOLDERS = ("practice_name", "first_name", "link", "share_blurb")
# A short, accessible HTML part: text structure and links, nothing that runs or loads.
HTML_TAGS = ("p", "br", "a", "strong", "b", "em", "i", "small", "h1", "h2", "h3", "ul", "ol",
             "li", "hr", "blockquote")
MAX_SUBJECT = 150
MAX_TEMPLATE = 5000
STOP_WORD = re.compile(rf"\b{SMS_STOP_WORD}\b")
# Values shown by the template editor's preview: never a real patient.
SAMPLE_VALUES = {
    "first_name": "Alex",
    "link": "https://referrals.example/r/sample-link",
    "unsubscribe_url": "https://referrals.example/u/sample-token",
}


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for the outbox: template name, subject (email only), text and HTML."""

    template: str
    subject: str
    body: str
    html: str = ""


@dataclass(frozen=True)
class AskTemplates:
    """A practice's ask templates as a manager edits them (empty means the default)."""

    email_subject: str = ""
    email_text: str = ""
    email_html: str = ""
    sms_text: str = ""


def _settings(session: Session, practice_slug: str) -> OutreachSettings:
    return session.get(OutreachSettings, practice_slug) or OutreachSettings(
        practice_slug=practice_slug
    )


def _fill(text: str, values: dict[str, str]) -> str:
    # An empty value (a practice without a blurb) must not leave a gap of blank lines.
    return re.sub(r"\n{3,}", "\n\n", Template(text).safe_substitute(values)).strip()


def _fill_html(text: str, values: dict[str, str]) -> str:
    """Substitute HTML-escaped values (autoescaping): a value can never become markup."""
    filled = Template(text).safe_substitute(
        {name: escape(value, quote=True) for name, value in values.items()}
    )
    return re.sub(r"<p>\s*</p>\n?", "", filled).strip()  # e.g. a practice without a blurb


def _one_line(text: str) -> str:
    """Subjects are one line: a value with a line break can never add a header."""
    return " ".join(text.split())


def _placeholders(text: str) -> set[str]:
    return set(Template(text).get_identifiers())


def current_ask_templates(*, session: Session, practice_slug: str) -> AskTemplates:
    """The ask templates in force for a practice (its own, else the defaults)."""
    custom = _settings(session, practice_slug)
    return AskTemplates(
        email_subject=custom.ask_email_subject or DEFAULT_ASK_EMAIL_SUBJECT,
        email_text=custom.ask_email_body or DEFAULT_ASK_EMAIL_BODY,
        email_html=custom.ask_email_html or DEFAULT_ASK_EMAIL_HTML,
        sms_text=custom.ask_sms_body or DEFAULT_ASK_SMS_BODY,
    )


def render_ask_templates(
    templates: AskTemplates, *, practice: PracticeSettings, channel: str, first_name: str,
    link: str, unsubscribe_url: str = "",
) -> RenderedMessage:
    """Render given ask templates (the editor's preview uses this with sample values)."""
    values = {"practice_name": practice.name, "first_name": first_name.strip() or "there",
              "link": link, "share_blurb": practice.share_blurb,
              "unsubscribe_url": unsubscribe_url}
    if channel == "email":
        text = templates.email_text or DEFAULT_ASK_EMAIL_BODY
        html = templates.email_html or DEFAULT_ASK_EMAIL_HTML
        if "unsubscribe_url" not in _placeholders(text):
            text += EMAIL_UNSUBSCRIBE_FOOTER
        if "unsubscribe_url" not in _placeholders(html):
            html += HTML_UNSUBSCRIBE_FOOTER
        return RenderedMessage(
            template="ask_email",
            subject=_one_line(_fill(templates.email_subject or DEFAULT_ASK_EMAIL_SUBJECT,
                                    values)),
            body=_fill(text, values), html=_fill_html(html, values),
        )
    sms = templates.sms_text or DEFAULT_ASK_SMS_BODY
    if not STOP_WORD.search(sms):
        sms += SMS_OPT_OUT_SUFFIX
    return RenderedMessage(template="ask_sms", subject="", body=_fill(sms, values))


def render_ask(
    *, session: Session, practice: PracticeSettings, channel: str, first_name: str, link: str,
    unsubscribe_url: str = "",
) -> RenderedMessage:
    """The ask for one patient on `channel` (`email` or `sms`) with their personal link."""
    return render_ask_templates(
        current_ask_templates(session=session, practice_slug=practice.practice_slug),
        practice=practice, channel=channel, first_name=first_name, link=link,
        unsubscribe_url=unsubscribe_url,
    )


class _HtmlChecker(HTMLParser):
    """Collects what an HTML template uses that the short, safe HTML part does not allow."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.problems.append(f"the HTML may not use <{tag}> (allowed: "
                                 f"{', '.join(HTML_TAGS)})")
            return
        for name, value in attrs:
            if tag == "a" and name == "href":
                target = (value or "").strip()
                if not (target in ("$link", "${link}", "$unsubscribe_url", "${unsubscribe_url}")
                        or target.startswith(("https://", "mailto:"))):
                    self.problems.append("a link may only point to $link, $unsubscribe_url, "
                                         "or an https:// or mailto: address")
            else:
                self.problems.append(f"the HTML may not use the attribute {name!r} on <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def _html_problems(html: str) -> list[str]:
    checker = _HtmlChecker()
    checker.feed(html)
    checker.close()
    return checker.problems


def _require(text: str, needed: dict[str, str], allowed: tuple[str, ...], what: str
             ) -> list[str]:
    found = _placeholders(text)
    problems = [f"the {what} must include {placeholder} ({why})"
                for placeholder, why in needed.items() if placeholder[1:] not in found]
    problems += [f"the {what} uses ${name}, which is not a placeholder (use: "
                 f"{', '.join('$' + p for p in allowed)})"
                 for name in sorted(found - set(allowed))]
    return problems


def ask_template_problems(templates: AskTemplates) -> list[str]:
    """Why these ask templates may not be saved (empty when they may)."""
    link = {"$link": "the patient's referral link"}
    unsubscribe = {"$unsubscribe_url": "the unsubscribe link"}
    problems: list[str] = []
    subject = templates.email_subject or DEFAULT_ASK_EMAIL_SUBJECT
    if len(subject) > MAX_SUBJECT:
        problems.append(f"the subject may be at most {MAX_SUBJECT} characters")
    if "\n" in subject.strip() or "\r" in subject:
        problems.append("the subject must be one line")
    problems += _require(subject, {}, ASK_PLACEHOLDERS, "subject")
    for what, text in (("email text", templates.email_text),
                       ("email HTML", templates.email_html), ("text message", templates.sms_text)):
        if len(text) > MAX_TEMPLATE:
            problems.append(f"the {what} may be at most {MAX_TEMPLATE} characters")
    text = templates.email_text or DEFAULT_ASK_EMAIL_BODY
    html = templates.email_html or DEFAULT_ASK_EMAIL_HTML
    sms = templates.sms_text or DEFAULT_ASK_SMS_BODY
    problems += _require(text, link | unsubscribe, ASK_PLACEHOLDERS, "email text")
    problems += _require(html, link | unsubscribe, ASK_PLACEHOLDERS, "email HTML")
    problems += _html_problems(html)
    problems += _require(sms, link, SMS_PLACEHOLDERS, "text message")
    if not STOP_WORD.search(sms):
        problems.append("the text message must tell the patient to reply STOP to opt out")
    return problems


def save_ask_templates(*, session: Session, practice_slug: str, templates: AskTemplates,
                       actor: str, now: datetime) -> None:
    """Store a practice's ask templates after checking them (audited); commits.

    The caller checks that `actor` may manage the practice; an empty field restores the default.
    """
    problems = ask_template_problems(templates)
    if problems:
        raise UserError("; ".join(problems))
    custom = _settings(session, practice_slug)
    custom.ask_email_subject = templates.email_subject.strip() or None
    custom.ask_email_body = templates.email_text.strip() or None
    custom.ask_email_html = templates.email_html.strip() or None
    custom.ask_sms_body = templates.sms_text.strip() or None
    session.add(custom)
    audit.record(session=session, actor=actor, action="practice_settings",
                 practice_slug=practice_slug, object_ref=f"templates:{practice_slug}",
                 outcome=audit.Outcome.success, now=now)
    session.commit()


def outcome_phrase(*, lead_status: str, outcome_detail: str) -> str:
    """What the referrer is told: at most "booked" / "started treatment", as the practice allows."""
    if outcome_detail not in OUTCOME_DETAILS:
        outcome_detail = "none"
    if lead_status == "treated" and outcome_detail == "treatment":
        return OUTCOME_PHRASES["treatment"]
    if lead_status in ("booked", "treated") and outcome_detail in ("booked", "treatment"):
        return OUTCOME_PHRASES["booked"]
    return OUTCOME_PHRASES["contacted"]


def render_loop_close(
    *, session: Session, practice: PracticeSettings, channel: str, first_name: str,
    lead_status: str,
) -> RenderedMessage:
    """The thank-you + outcome message to a referrer."""
    custom = _settings(session, practice.practice_slug)
    values = {
        "practice_name": practice.name, "first_name": first_name.strip() or "there",
        "outcome": outcome_phrase(lead_status=lead_status, outcome_detail=custom.outcome_detail),
        "share_blurb": practice.share_blurb,
    }
    body = _fill(custom.loop_close_body or DEFAULT_LOOP_CLOSE_BODY, values)
    subject = f"Thank you from {practice.name}" if channel == "email" else ""
    return RenderedMessage(template=f"loop_close_{channel}", subject=_one_line(subject),
                           body=body)


def render_opt_out_confirmation(*, practice_name: str) -> RenderedMessage:
    """The one confirmation an opted-out person receives."""
    return RenderedMessage(template="opt_out_confirmation", subject="Unsubscribed",
                           body=_fill(OPT_OUT_CONFIRMATION, {"practice_name": practice_name}))


def text_to_html(text: str) -> str:
    """A plain text as a short HTML part: escaped paragraphs, URLs as links."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = escape(paragraph, quote=True).replace("\n", "<br>")
        linked = re.sub(r"(https?://[^\s<>\"]+)", r'<a href="\1">\1</a>', escaped)
        rendered.append(f"<p>{linked}</p>")
    return "\n".join(rendered)


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$<>:])")


def markdown_text(text: str) -> str:
    """Text shown literally by Markdown: every special character (and `$`, LaTeX) escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))


class _MarkdownWriter(HTMLParser):
    """The allowed HTML subset (`HTML_TAGS`) as Markdown, so a page can show it without raw HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "ul", "ol", "blockquote", "h1", "h2", "h3", "hr"):
            self.out.append("\n\n")
        prefix = {"h1": "# ", "h2": "## ", "h3": "### ", "li": "\n- ", "br": "  \n",
                  "strong": "**", "b": "**", "em": "*", "i": "*", "blockquote": "> ",
                  "hr": "---\n\n"}.get(tag, "")
        self.out.append(prefix)
        if tag == "a":
            self.href = dict(attrs).get("href") or ""
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href is not None:
            label = markdown_text("".join(self.link_text)) or "link"
            target = self.href if self.href.startswith(("https://", "mailto:")) else ""
            self.out.append(f"[{label}](<{target}>)" if target else label)
            self.href = None
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")

    def handle_data(self, data: str) -> None:
        if self.href is not None:
            self.link_text.append(data)
        elif data.strip() or (data and self.out and not self.out[-1].endswith((" ", "\n"))):
            self.out.append(markdown_text(data))


def html_to_markdown(html: str) -> str:
    """An HTML part of the allowed subset as Markdown, for a preview without raw HTML."""
    writer = _MarkdownWriter()
    writer.feed(html)
    writer.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(writer.out)).strip()
