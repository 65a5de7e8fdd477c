"""The opt-out words are stated once: the matcher is built from them, texts name one of them."""

from __future__ import annotations

import pytest

from console.contact.opt_out import OPT_OUT_WORDS, SMS_STOP_WORD, is_opt_out
from console.messaging.templates import DEFAULT_ASK_SMS_BODY, SMS_OPT_OUT_SUFFIX, STOP_WORD


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
def test_every_word_of_the_list_opts_out_in_any_case(word: str) -> None:
    for text in (word, word.upper(), f"Please {word.title()}, thanks"):
        assert is_opt_out(text)
    assert not is_opt_out(f"{word.replace(' ', '')}xyz")


def test_texts_tell_the_patient_a_word_of_the_list() -> None:
    assert SMS_STOP_WORD.lower() in OPT_OUT_WORDS
    for text in (SMS_OPT_OUT_SUFFIX, DEFAULT_ASK_SMS_BODY):
        assert STOP_WORD.search(text) and is_opt_out(text)
