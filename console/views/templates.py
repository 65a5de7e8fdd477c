"""The managers' template editor: each practice's ask templates, a live preview, checked saving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from console.identity.access import ADMIN_ROLES, CurrentUser, require_role
from console.messaging.templates import (
    SAMPLE_VALUES,
    AskTemplates,
    ask_template_problems,
    current_ask_templates,
    html_to_markdown,
    markdown_text,
    render_ask_templates,
    save_ask_templates,
)
from console.models.practice import PracticeSettings
from console.platform.errors import UserError

SMS_SEGMENT_CHARS = 160


@dataclass(frozen=True)
class TemplatePreview:
    """The ask as a sample patient would receive it, and why it could not be saved yet."""

    subject: str
    subject_as_markdown: str
    text: str
    html: str
    html_as_markdown: str
    sms: str
    sms_segments: int
    problems: list[str]


def _practice(session: Session, user: CurrentUser, practice_slug: str) -> PracticeSettings:
    require_role(user, ADMIN_ROLES)
    practice = session.get(PracticeSettings, practice_slug)
    if practice is None or not user.scope.allows(practice_slug):
        raise UserError("unknown practice")
    return practice


def practice_templates(*, session: Session, user: CurrentUser,
                       practice_slug: str) -> AskTemplates:
    """The ask templates in force for one practice in the manager's scope."""
    _practice(session, user, practice_slug)
    return current_ask_templates(session=session, practice_slug=practice_slug)


def preview_templates(*, session: Session, user: CurrentUser, practice_slug: str,
                      templates: AskTemplates) -> TemplatePreview:
    """Render (unsaved) templates for a sample patient of the practice; never a real one."""
    practice = _practice(session, user, practice_slug)
    email, sms = (
        render_ask_templates(templates, practice=practice, channel=channel,
                             first_name=SAMPLE_VALUES["first_name"], link=SAMPLE_VALUES["link"],
                             unsubscribe_url=SAMPLE_VALUES["unsubscribe_url"])
        for channel in ("email", "sms")
    )
    return TemplatePreview(
        subject=email.subject, subject_as_markdown=markdown_text(email.subject),
        text=email.body, html=email.html,
        html_as_markdown=html_to_markdown(email.html), sms=sms.body,
        sms_segments=max(1, -(-len(sms.body) // SMS_SEGMENT_CHARS)),
        problems=ask_template_problems(templates),
    )


def save_templates(*, session: Session, user: CurrentUser, practice_slug: str,
                   templates: AskTemplates, now: datetime) -> None:
    """Store the practice's ask templates; a template missing a required link is refused."""
    _practice(session, user, practice_slug)
    save_ask_templates(session=session, practice_slug=practice_slug, templates=templates,
                       actor=user.actor, now=now)
