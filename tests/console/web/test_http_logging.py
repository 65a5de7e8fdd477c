"""Access-log lines never carry a report token (query strings are stripped)."""

from __future__ import annotations

import logging

from console.web.app import ACCESS_LOGGER, RedactQueryStrings, install_log_redaction


def _record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_query_string_is_removed_and_line_kept() -> None:
    record = _record("/api/v1/report?token=eyJhbGciOi.secret.sig")
    assert RedactQueryStrings().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/v1/report HTTP/1.1" 200'


def test_other_records_pass_untouched() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("message",), None)
    assert RedactQueryStrings().filter(record) is True
    assert record.getMessage() == "plain message"


def test_installed_once() -> None:
    install_log_redaction()
    install_log_redaction()
    filters = logging.getLogger(ACCESS_LOGGER).filters
    assert sum(isinstance(item, RedactQueryStrings) for item in filters) == 1


def test_an_unsubscribe_token_is_masked() -> None:
    record = _record("/u/eyJhbGciOi.eyJzdWIiOi.sig")
    assert RedactQueryStrings().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /u/[token] HTTP/1.1" 200'
