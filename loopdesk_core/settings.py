"""The one settings object: every `LOOPDESK_` variable, and nothing else reads the environment."""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MIN_SECRET_BYTES = 32
ENV_PREFIX = "LOOPDESK_"
DEFAULT_BASE_URL = "http://127.0.0.1:8501"


class InsecureSecretError(RuntimeError):
    """The configured secret key is too short to sign tokens safely."""


def _environment(fields: Any) -> dict[str, str]:
    """The `LOOPDESK_*` variables that name a field (names in any case, as pydantic-settings
    read them), keyed by field name; values are text, validated like any other input."""
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        upper = name.upper()
        if upper.startswith(ENV_PREFIX):
            field = upper[len(ENV_PREFIX):].lower()
            if field in fields:
                found[field] = value
    return found


class Settings(BaseModel):
    """Runtime configuration, read from `LOOPDESK_*` environment variables.

    A plain pydantic model filled from the environment (not pydantic-settings, whose import
    alone cost ~50 ms of CPU in every `loopdesk` call, and all settings are scalars):
    arguments given to the constructor win over the environment; defaults are validated too.
    """

    model_config = ConfigDict(extra="ignore", validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(type(self).model_fields), **values})

    home: Path = Field(default=Path(".loopdesk"), description="data folder")
    database_url: str | None = Field(default=None, description="operational store URL")
    secret_key: SecretStr | None = Field(default=None, description=">= 32 random bytes")
    now: datetime | None = Field(default=None, description="the clock's override (ISO 8601)")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_from: str = "referrals@loopdesk.local"
    mail_domain: str | None = Field(
        default=None, description="the agency's Message-ID domain (default: the sender's)"
    )
    inbound_email_domain: str = Field(
        default="reply.loopdesk.local",
        description="domain whose MX is `loopdesk inbound-smtp`: reply and bounce addresses",
    )
    sms_webhook_secret: SecretStr | None = Field(
        default=None, description="shared secret of the SMS provider's signed webhook"
    )

    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    lease_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Where emitted links point (report links, referral links). Unset: the address a running
    # `loopdesk serve` recorded under home, else http://127.0.0.1:8501.
    public_base_url: str | None = None
    opendental_password: SecretStr | None = Field(
        default=None, description="Open Dental database password when the URL carries none"
    )
    ingest_max_file_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="ingest refuses export files larger than this"
    )
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For is believed;
    # empty (the default): the TCP peer is the client, forwarded headers are ignored.
    trusted_proxies: str = ""
    # The most connections one process holds to the operational store (its pool ceiling).
    db_pool_size: int = Field(default=8, ge=1, le=100)

    @field_validator("smtp_port")
    @classmethod
    def _port_in_range(cls, value: int) -> int:
        if not 1 <= value <= 65_535:
            raise ValueError("must be a port number between 1 and 65535")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError as error:
                    raise ValueError(f"{item.strip()!r} is not an IP address or network") \
                        from error
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """LOOPDESK_TRUSTED_PROXIES parsed (comma-separated addresses or CIDR networks)."""
        return tuple(ipaddress.ip_network(item.strip(), strict=False)
                     for item in self.trusted_proxies.split(",") if item.strip())

    @field_validator("now")
    @classmethod
    def _now_is_aware(cls, value: datetime | None) -> datetime | None:
        # ARCHITECTURE.md only says ISO 8601: a value without an offset is read as UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def resolved_home(self) -> Path:
        """The data folder as an absolute path."""
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The operational store: PostgreSQL when configured, otherwise SQLite under home."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'loopdesk.db'}"

    @property
    def resolved_mail_domain(self) -> str:
        """The domain Message-IDs are minted on: configured, else the sender address's domain."""
        if self.mail_domain:
            return self.mail_domain.strip().lower()
        return self.smtp_from.rpartition("@")[2].strip().lower() or "loopdesk.local"

    @property
    def warehouse_dir(self) -> Path:
        """Where the pipeline writes the raw store and published snapshots."""
        return self.resolved_home / "warehouse"

    @property
    def serve_address_file(self) -> Path:
        """Where `loopdesk serve` records the address it listens on (for links)."""
        return self.resolved_home / "serve-address"

    def link_base_url(self) -> str:
        """The base of every emitted link: LOOPDESK_PUBLIC_BASE_URL, else the address the
        running `serve` listens on, else the default console address."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        try:
            recorded = self.serve_address_file.read_text().strip()
        except OSError:
            recorded = ""
        return recorded.rstrip("/") if recorded.startswith(("http://", "https://")) \
            else DEFAULT_BASE_URL

    def signing_key(self) -> bytes:
        """The token secret: from settings, else generated once into a 0600 file under home."""
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value().encode()
            if len(key) < MIN_SECRET_BYTES:
                raise InsecureSecretError(
                    f"LOOPDESK_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes"
                )
            return key
        path = self.resolved_home / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        key = path.read_text().strip().encode()
        if len(key) < MIN_SECRET_BYTES:
            raise InsecureSecretError(
                f"{path} holds a secret shorter than {MIN_SECRET_BYTES} bytes"
            )
        return key


def get_settings() -> Settings:
    """Read the settings afresh (cheap; lets tests change the environment)."""
    return Settings()


def isolated_environment(*, home: Path, now: datetime) -> dict[str, str]:
    """The environment for a child process working in its own data home at a pinned clock.

    Every `LOOPDESK_*` variable of this process is dropped (the child must not reach this
    process's store, PostgreSQL included); the rest (PATH, locale) is kept. The simulator's
    worker processes run with it.
    """
    kept = {name: value for name, value in os.environ.items()
            if not name.upper().startswith("LOOPDESK_")}
    return kept | {"LOOPDESK_HOME": str(home), "LOOPDESK_NOW": now.isoformat()}
