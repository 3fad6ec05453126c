"""The one settings object: ``HSBA_*`` environment variables and an optional TOML file.

``get_settings()`` builds it on first call (never at import time). The TOML file is
``$HSBA_CONFIG`` if set, else ``./hsba.toml`` if it exists. Environment variables win
over the file. ``HSBA_ENV=production`` refuses every development adapter, naming each.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigurationError

DEFAULT_SECRET = "hsba-development-secret-change-me"


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the ``[hsba]`` table (or the top level) of the TOML config file."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("HSBA_CONFIG") or "hsba.toml"
        self._data: dict[str, Any] = {}
        p = Path(path)
        if p.is_file():
            with p.open("rb") as fh:
                raw = tomllib.load(fh)
            self._data = raw.get("hsba", raw)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HSBA_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    """Deployment environment; ``production`` refuses development adapters."""

    data_dir: Path = Path("var")
    """Where the embedded default keeps its database, WORM store, dev PKI and keys."""

    hospital_code: str = "70001"
    """Mã cơ sở khám bệnh, chữa bệnh of the default tenant (demo: a Tây Ninh centre)."""

    base_url: str = "http://127.0.0.1:8000"
    """Public URL of the service; QR codes on printed forms point here."""

    # --- records index -------------------------------------------------------
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite at ``{data_dir}/hsba.db``."""

    # --- object store --------------------------------------------------------
    store: Literal["fs", "s3"] = "fs"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "hsba-archive"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    replica_store: Literal["none", "fs", "s3"] = "none"
    replica_fs_path: Path | None = None
    replica_s3_bucket: str = ""

    # --- keys ----------------------------------------------------------------
    keystore: Literal["software", "pkcs11"] = "software"
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "hsba"
    pkcs11_user_pin: SecretStr = SecretStr("")

    # --- PKI, time-stamping, revocation ---------------------------------------
    pki: Literal["dev", "external"] = "dev"
    """``dev``: a development PKI generated on first run under ``{data_dir}/pki``."""
    tsa_urls: list[str] = Field(default_factory=list)
    """RFC 3161 TSAs tried in order; empty with ``pki=dev`` means the in-process dev TSA."""
    tsa_timeout_s: float = 10.0
    trust_pems: list[Path] = Field(default_factory=list)
    """Extra trust anchors (PEM files) beside the policy's trust list."""
    revocation_online: bool = True

    # --- policies ------------------------------------------------------------
    policies_dir: Path | None = None
    """A hospital's own policy directory, overriding the shipped defaults."""

    # --- API -----------------------------------------------------------------
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    jwt_issuer: str = "hsba"
    jwt_audience: str = "hsba-api"
    max_upload_mb: int = 25
    host: str = "127.0.0.1"
    port: int = 8000

    # --- app-confirmed remote signing (VNPT SmartCA / Viettel MySign shape) ---
    remote_provider: Literal["none", "smartca", "mysign"] = "none"
    """The provider whose phone app signers confirm in; ``none`` turns it off."""
    remote_provider_url: str = ""
    """The provider's gateway base URL (``https://`` required in production)."""
    remote_sp_id: str = ""
    """The integrator's id at the provider (SmartCA ``sp_id``, MySign ``client_id``)."""
    remote_sp_secret: SecretStr = SecretStr("")
    """The integrator's secret (SmartCA ``sp_password``, MySign ``client_secret``)."""
    remote_webhook: bool = True
    """Accept the provider's signed result notifications on
    ``/api/v1/remote-signing/callbacks/smartca`` (SmartCA only; MySign is polled);
    off: results come by polling only."""
    remote_webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key shared with the provider for the notifications (≥ 16 bytes)."""
    remote_poll_every_s: float = 30.0
    """How often the polling job asks the provider about waiting transactions."""
    remote_poll_older_than_s: float = 60.0
    """Poll only transactions waiting longer than this (younger ones: the webhook)."""
    remote_expiry_s: float = 300.0
    """A transaction the signer has not confirmed by then is expired, documents unsigned."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls), file_secret_settings)

    # -------------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hsba.db').resolve()}"

    def development_adapters(self) -> list[str]:
        """Names of the development-only adapters this configuration uses."""
        found = []
        if self.keystore == "software":
            found.append("software keystore (HSBA_KEYSTORE=software)")
        if self.pki == "dev":
            found.append("development PKI (HSBA_PKI=dev)")
        if not self.tsa_urls:
            found.append("in-process development TSA (HSBA_TSA_URLS empty)")
        if self.store == "fs":
            found.append("filesystem WORM store (HSBA_STORE=fs)")
        if self.effective_database_url.startswith("sqlite"):
            found.append("SQLite records index (HSBA_DATABASE_URL)")
        if self.secret_key.get_secret_value() == DEFAULT_SECRET:
            found.append("default secret key (HSBA_SECRET_KEY)")
        return found

    @property
    def remote_webhook_on(self) -> bool:
        """The provider's webhook is accepted: asked for, and the provider has one
        (the MySign-shaped adapter polls only)."""
        return self.remote_webhook and self.remote_provider == "smartca"

    def remote_signing_problems(self) -> list[str]:
        """What is wrong with the remote-signing provider's configuration (any
        environment); production also refuses a provider reached without TLS."""
        if self.remote_provider == "none":
            return []
        found = []
        if not self.remote_provider_url:
            found.append("remote signing provider without URL (HSBA_REMOTE_PROVIDER_URL)")
        elif self.env == "production" and not self.remote_provider_url.startswith("https://"):
            found.append("remote signing provider without TLS (HSBA_REMOTE_PROVIDER_URL "
                         "must be https://)")
        if not self.remote_sp_id or not self.remote_sp_secret.get_secret_value():
            found.append("remote signing provider without integrator credentials "
                         "(HSBA_REMOTE_SP_ID, HSBA_REMOTE_SP_SECRET)")
        if self.remote_webhook_on and len(self.remote_webhook_secret.get_secret_value()
                                          .encode()) < 16:
            found.append("remote signing webhook on without a secret of at least 16 bytes "
                         "(HSBA_REMOTE_WEBHOOK_SECRET, or HSBA_REMOTE_WEBHOOK=false)")
        return found

    def check_production(self) -> None:
        """Refuse to run in production with any development adapter or an unsafe
        remote-signing provider (see :meth:`remote_signing_problems`)."""
        if self.env != "production":
            return
        bad = self.development_adapters() + self.remote_signing_problems()
        if bad:
            raise ConfigurationError(
                "config.development_adapter_in_production",
                "Cấu hình môi trường production đang dùng thành phần chỉ dành cho phát triển "
                "hoặc thiết lập không an toàn: " + "; ".join(bad),
                "Production configuration uses development-only adapters or unsafe settings: "
                + "; ".join(bad),
                details=bad,
            )

    def public_dict(self) -> dict[str, Any]:
        """The configuration, printable: secrets masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, list):
                value = [str(v) for v in value]
            out[name] = value
        out["effective_database_url"] = _mask_url(self.effective_database_url)
        return out


def _mask_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:********@{host}"
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """For tests and the CLI after changing the environment."""
    get_settings.cache_clear()
