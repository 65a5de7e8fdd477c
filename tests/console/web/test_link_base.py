"""Every emitted link uses LOOPDESK_PUBLIC_BASE_URL, else the address `serve` listens on."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdesk_core.settings import get_settings


def test_links_default_to_the_console_address(loopdesk_home: Path) -> None:
    assert get_settings().link_base_url() == "http://127.0.0.1:8501"


def test_links_follow_the_port_serve_listens_on(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from console.platform.db import get_engine, init_db, new_session
    from console.reporting.report_links import create_report_link
    from console.web.serve import run_server

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    run_server(host="127.0.0.1", port=8765)
    assert seen["port"] == 8765
    assert get_settings().link_base_url() == "http://127.0.0.1:8765"
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as session:
        link = create_report_link(session=session, practice_slug="alpha", days=7, actor="cli",
                                  now=get_settings().now)  # type: ignore[arg-type]
    assert link.url.startswith("http://127.0.0.1:8765/api/v1/report?token=")


def test_the_setting_wins(loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (loopdesk_home / "serve-address").write_text("http://127.0.0.1:8765\n")
    monkeypatch.setenv("LOOPDESK_PUBLIC_BASE_URL", "https://refer.example.com/")
    assert get_settings().link_base_url() == "https://refer.example.com"
