"""Templates: each practice's ask (email subject, text, HTML; text message), live preview."""

from __future__ import annotations

import streamlit as st

from console.messaging.templates import ASK_PLACEHOLDERS, AskTemplates
from console.platform.errors import UserError
from console.views.identity import store
from console.views.manage import clients
from console.views.templates import practice_templates, preview_templates, save_templates
from loopdesk_core.clock import now
from pages.components import current_user, guarded

user = current_user(__file__)
st.title("Templates")
st.caption("The ask each practice's patients receive. Placeholders: "
           + ", ".join(f"${name}" for name in ASK_PLACEHOLDERS)
           + ". Every email needs $link and $unsubscribe_url; every text needs $link and STOP.")
with store() as db:
    practices = guarded(lambda: clients(session=db, user=user))
if not practices:
    st.info("No clients yet: run a build.")
    st.stop()
names = {p.practice_slug: p.name for p in practices}
slug = st.selectbox("Client", list(names), format_func=lambda s: names[s])
with store() as db:
    stored = guarded(lambda: practice_templates(session=db, user=user, practice_slug=slug))

editor, preview_column = st.columns(2)
with editor:
    st.subheader("Edit")
    subject = st.text_input("Email subject", value=stored.email_subject, key=f"subject-{slug}")
    text = st.text_area("Email text", value=stored.email_text, height=260, key=f"text-{slug}")
    html = st.text_area("Email HTML", value=stored.email_html, height=260, key=f"html-{slug}",
                        help="Short and accessible: p, br, a, strong, em, small, h1-h3, lists.")
    sms = st.text_area("Text message", value=stored.sms_text, height=120, key=f"sms-{slug}")
edited = AskTemplates(email_subject=subject, email_text=text, email_html=html, sms_text=sms)
with store() as db:
    preview = guarded(lambda: preview_templates(session=db, user=user, practice_slug=slug,
                                                templates=edited))
with preview_column:
    st.subheader("Preview")
    st.caption("For a sample patient, Alex; links are samples.")
    for problem in preview.problems:
        st.warning(problem[:1].upper() + problem[1:])
    with st.container(border=True):
        st.markdown(f"**Subject:** {preview.subject_as_markdown}")
        st.markdown(preview.html_as_markdown)
    with st.expander("Plain-text part"):
        st.text(preview.text)
    with st.expander("HTML source"):
        st.code(preview.html, language="html")
    with st.container(border=True):
        st.caption(f"Text message · {len(preview.sms)} characters · "
                   f"{preview.sms_segments} segment(s)")
        st.text(preview.sms)

if st.button("Save templates", type="primary"):
    try:
        with store() as db:
            save_templates(session=db, user=user, practice_slug=slug, templates=edited, now=now())
    except UserError as error:
        st.error(f"Not saved: {error}")
    else:
        st.success(f"Saved the templates of {names[slug]}.")
