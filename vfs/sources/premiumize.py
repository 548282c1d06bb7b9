"""Premiumize.me (legacy API) as a link service: `MOUNT/premiumize/<file>`.

At mount, `accountstatus` must show a downloading account (not free, not
expired) or the mount is refused with a clear message; `fairuse_left` goes to
`.status`. `hosterlist` regexes reject unsupported links before any
`directdownloadlink` call; its `connection_settings` give the per-file
connection limit. Statuses follow the document (see clients/premiumize.py):
4xx stop the link, 5xx and 509 are recorded with their retry time and the read
fails at once instead of waiting minutes.
"""

from __future__ import annotations

import logging
import time

import httpx
import trio

from clients.errors import AuthError, FileUnavailable
from clients.premiumize import AccountStatus, HosterList, PremiumizeClient

from ..config import Config, ConfigError
from .base import DirectLink
from .links import LinkInfo, LinkRow, LinkSource

log = logging.getLogger(__name__)


class PremiumizeSource(LinkSource):
    name = "premiumize"

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        pm = config.premiumize
        if pm is None or not pm.login or not pm.password:
            raise ConfigError(
                "Premiumize needs [premiumize] login (customer id) and password (PIN) "
                "in the config file (or DEBRIDFS_PREMIUMIZE_PASSWORD)"
            )
        super().__init__(config.state_dir)
        self.client = PremiumizeClient(http, pm.api_url, pm.login, pm.password)
        self.account: AccountStatus | None = None
        self.hosters: HosterList | None = None
        self.check_interval = max(pm.account_check_interval, 1.0)

    async def check(self) -> None:
        account = await self.client.account_status()
        self.account = account
        if not account.can_download:
            raise AuthError(
                "Premiumize account is free: only premium, trial and prepaid accounts can download"
            )
        if account.expires is not None and account.expires <= time.time():
            raise AuthError(
                "Premiumize account expired on " + time.strftime("%Y-%m-%d", time.localtime(account.expires))
            )
        self.hosters = await self.client.hoster_list()
        log.info("Premiumize: %s account, fair use left %.0f%%", account.type, account.fairuse_left * 100)

    def account_lines(self) -> list[str]:
        if self.account is None:
            return []
        expires = (
            "never"
            if self.account.expires is None
            else time.strftime("%Y-%m-%d", time.localtime(self.account.expires))
        )
        return [
            f"account: {self.account.type}, expires {expires}",
            f"fairuse_left: {self.account.fairuse_left:.4f}",
        ]

    async def _ready(self) -> HosterList:
        if self.hosters is None:
            await self.check()
        assert self.hosters is not None
        return self.hosters

    async def probe(self, url: str) -> LinkInfo:
        hosters = await self._ready()
        if not hosters.supports(url):
            raise FileUnavailable("not a link Premiumize supports (no hosterlist regex matches)")
        download = await self.client.direct_download_link(url)
        self._remember(url, download.location, download.filesize, hosters)
        return LinkInfo(download.filename or url.rstrip("/").rsplit("/", 1)[-1], download.filesize)

    def _remember(self, url: str, location: str, size: int, hosters: HosterList) -> DirectLink:
        link = DirectLink(location, size, hosters.max_connections(url))
        self._links[url] = link  # the location is a credential: memory only, never the store
        return link

    async def direct_link(self, row: LinkRow, refresh: bool) -> DirectLink:
        hosters = await self._ready()
        download = await self.client.direct_download_link(row.url)
        return self._remember(row.url, download.location, row.size or download.filesize, hosters)

    async def periodic(self) -> None:
        """Keeps `fairuse_left` in `.status` current (and the account and hoster list)."""
        while True:
            await trio.sleep(self.check_interval)
            try:
                await self.check()
            except Exception as exc:  # keep showing the last known state
                log.info("Premiumize: account check failed: %s", exc)
            else:
                self._changed()
