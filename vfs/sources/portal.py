"""The portal external API v1 as a link service: `MOUNT/portal/<file>`.

At mount and every `login_check_interval`, `/account` and `/hosts/grouped` are
read; links to unknown hosts, or hosts not `currently_working`, are refused
(the latter retried after the next host check). A new link is unrestricted
once (its `linkId` is kept in the link store and reused: a re-unrestrict of
the same URL answers `reusedExisting`). A read polls `GET /link/{linkId}`
every `poll_after_seconds` until `download_ready`, for at most `max_wait`
seconds, then fails with EAGAIN and shows the state in `.status`.

A file is listed only with its size: a link whose size the portal does not
know yet (before it fetched the file) waits in `.status` and is asked again
after `poll_after_seconds` (by its `linkId`, no second unrestrict). A portal
that answers without `linkId` (the v1.0 shape) is unrestricted again whenever
a fresh link is needed (no charge: `reusedExisting`).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from clients.errors import FileUnavailable, NotFound, NotReady, RemoteError, TemporaryError
from clients.portal import PortalAccount, PortalClient, PortalHost, PortalLink

from ..config import Config, ConfigError
from ..units import bytes_text, human_duration
from .base import DirectLink
from .links import LinkInfo, LinkRow, LinkSource, wait_bounded

log = logging.getLogger(__name__)

DEFAULT_CHECK_INTERVAL = 1800.0
MIN_CHECK_INTERVAL = 1.0  # whatever the portal suggests: never a tight loop


class PortalSource(LinkSource):
    name = "portal"

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        portal = config.portal
        if portal is None or not portal.api_key:
            raise ConfigError(
                "no portal API key: set [portal] api_key (obb_...) in the config file "
                "or DEBRIDFS_PORTAL_API_KEY in the environment"
            )
        if not portal.api_url:
            raise ConfigError("[portal] api_url is required (https://<your-portal-host>/api/external/v1)")
        super().__init__(config.state_dir)
        self.max_wait = portal.max_wait
        self.client = PortalClient(
            http, portal.api_url, portal.api_key, max_retry_wait=min(5.0, portal.max_wait)
        )
        self.account: PortalAccount | None = None
        self.hosts: dict[str, PortalHost] = {}
        self.check_interval = DEFAULT_CHECK_INTERVAL
        self._checked = False
        # url -> (trio time, message): a read that just gave up fails fast until then
        self._not_ready: dict[str, tuple[float, str]] = {}
        self._unsized: dict[str, str] = {}  # url -> linkId of a link whose size is not known yet

    async def check(self) -> None:
        self.account = await self.client.account()
        if self.account.check_interval is not None:
            self.check_interval = self.account.check_interval
        hosts = await self.client.hosts_grouped()
        if not hosts:
            # A portal serves no link without hosts: an empty list means a wrong api_url or an
            # account the portal does not recognise, never a working set-up.
            raise RemoteError("portal /hosts/grouped: the host list is empty")
        self.hosts = {domain: host for host in hosts for domain in host.domains}
        self._checked = True
        log.info("portal: %s account, %d host(s)", self.account.account_type or "?", len(hosts))

    async def periodic(self) -> None:
        """Re-reads `/account` and `/hosts/grouped` every `login_check_interval`."""
        while True:
            await trio.sleep(max(self.check_interval, MIN_CHECK_INTERVAL))
            try:
                await self.check()
            except Exception as exc:  # keep showing the last known state
                log.info("portal: account/host check failed: %s", exc)
            else:
                self._changed()  # .status shows the new account and host state

    def account_lines(self) -> list[str]:
        acc = self.account
        if acc is None:
            return []
        lines = [
            f"account: {acc.account_type or '?'}, traffic left {bytes_text(acc.traffic_left)} "
            f"of {bytes_text(acc.traffic_max)}, time left "
            f"{'unlimited' if acc.time_left is None else human_duration(acc.time_left)}"
        ]
        down = sorted({h.platform for h in self.hosts.values() if not h.working})
        if down:
            lines.append("hosts not working: " + ", ".join(down))
        return lines

    def status_info(self) -> dict[str, Any]:
        info = super().status_info()
        if self.account is not None and self.account.traffic_left is not None:
            info["traffic_left"] = self.account.traffic_left
        return info

    def _host_of(self, url: str) -> PortalHost:
        domain = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        host = self.hosts.get(domain)
        if host is None:
            raise FileUnavailable(f"host {domain or '?'} is not supported by the portal")
        if not host.working:
            raise TemporaryError(
                f"host {host.platform} is currently not working at the portal",
                retry_after=self.check_interval,
            )
        return host

    async def probe(self, url: str) -> LinkInfo:
        if not self._checked:
            await self.check()
        host = self._host_of(url)
        link = await self._sized(url)
        assert link.filesize is not None
        name = link.filename or url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
        return LinkInfo(
            name, link.filesize, {"link_id": link.link_id, "maxchunks": link.maxchunks or host.max_chunks}
        )

    async def _sized(self, url: str) -> PortalLink:
        """The link if its size is known; else NotReady (asked again after `poll_after`
        by the retry task, by its linkId). No sleeping here: listings wait for probes."""
        link_id = self._unsized.pop(url, "")
        link = None
        if link_id:
            try:
                link = await self.client.link(link_id)
            except NotFound:
                pass
        if link is None:
            link = await self.client.unrestrict(url)
        if link.filesize is None:
            if link.remote_status == "error":
                raise FileUnavailable("the portal failed to fetch the file (remote_status error)")
            if link.link_id:
                self._unsized[url] = link.link_id
            raise NotReady(
                f"the portal does not know the file's size yet (remote_status {link.remote_status or '?'})",
                retry_after=link.poll_after,
            )
        return link

    async def direct_link(self, row: LinkRow, refresh: bool) -> DirectLink:
        url = row.url
        now = trio.current_time()
        until, message = self._not_ready.get(url, (0.0, ""))
        if until > now:
            raise NotReady(message)
        deadline = now + self.max_wait
        link = await self._current(row, refresh)
        while not link.ready:
            if link.remote_status == "error":
                # The doc: stop polling, the transfer failed on the portal's side.
                raise FileUnavailable(
                    "the portal failed to fetch the file (remote_status error); add the link again to retry"
                )
            if not link.link_id:
                raise TemporaryError("the portal answered with neither a link nor a linkId")
            if not await wait_bounded(link.poll_after, deadline):
                message = (
                    f"not ready yet at the portal (remote_status {link.remote_status or '?'}, "
                    f"checked {time.strftime('%H:%M:%S')})"
                )
                self._not_ready[url] = (trio.current_time() + min(link.poll_after, 5.0), message)
                raise NotReady(message)
            link = await self.client.link(link.link_id)
        self._not_ready.pop(url, None)
        assert link.link is not None
        row.data["maxchunks"] = link.maxchunks or row.data.get("maxchunks")
        return DirectLink(link.link, row.size or link.filesize or 0, row.data.get("maxchunks"))

    async def _current(self, row: LinkRow, refresh: bool) -> PortalLink:
        """The link's state: its linkId polled, or (refresh, gone) unrestricted again."""
        link_id = row.data.get("link_id")
        if link_id and not refresh:
            try:
                return await self.client.link(link_id)
            except NotFound:
                log.info("portal: linkId of %s is gone; unrestricting again", row.url)
        link = await self.client.unrestrict(row.url)
        row.data["link_id"] = link.link_id
        if link.reused:
            log.debug("portal: reused linkId for %s", row.url)
        return link
