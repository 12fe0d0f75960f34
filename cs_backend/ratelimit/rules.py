"""The rate limits of cs_backend, read once from the settings (config.py), and the trusted proxies."""

from __future__ import annotations

from dataclasses import dataclass

from cs_backend.config import Settings
from cs_backend.ratelimit.client_address import Network, trusted_networks
from cs_backend.ratelimit.limiter import RateLimit


@dataclass(frozen=True)
class RateLimits:
    anonymous: RateLimit  # per client address
    refused_credentials: RateLimit  # per client address
    account: RateLimit  # per signed-in account
    service: RateLimit  # the service, together
    sign_in_per_address: RateLimit
    sign_in_per_email: RateLimit
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            anonymous=RateLimit.parse("anonymous", settings.rate_limit_anonymous),
            refused_credentials=RateLimit.parse("refused", settings.rate_limit_refused_credentials),
            account=RateLimit.parse("account", settings.rate_limit_account),
            service=RateLimit.parse("service", settings.rate_limit_service),
            sign_in_per_address=RateLimit.parse("sign-in-address", settings.rate_limit_sign_in_per_address),
            sign_in_per_email=RateLimit.parse("sign-in-email", settings.rate_limit_sign_in_per_email),
            trusted_proxies=trusted_networks(settings.trusted_proxies),
        )
