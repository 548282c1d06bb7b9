"""RapidShare (rsapi.cgi) as a link service: `MOUNT/rapidshare/<file>`.

A new link is checked with `checkfiles` (size, status, md5; no traffic is
charged); its md5 becomes the `user.md5` attribute (`debridfs verify`). A read
asks `download` for `DL:host,dlauth,countdown,md5`: premium accounts read
at once with their cookie; free users (no login, or a free account) wait the
countdown when it fits in `max_wait`, else the read fails with EAGAIN, the
ticket is kept and `.status` says when it becomes valid. Which routine names
the server takes (with or without `_v1`) is the client's business.
"""

from __future__ import annotations

import logging
import time

import httpx
import trio

from clients.errors import NotReady
from clients.fields import optional_int
from clients.rapidshare import Account, DownloadTicket, RapidShareClient, parse_file_url

from ..config import Config
from ..units import human_size
from .base import DirectLink
from .links import LinkInfo, LinkRow, LinkSource, wait_bounded

log = logging.getLogger(__name__)

TICKET_TTL = 540.0  # a little under the service's dlauth lifetime (600 s)


class RapidShareSource(LinkSource):
    name = "rapidshare"

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        rs = config.rapidshare
        assert rs is not None
        super().__init__(config.state_dir)
        self.client = RapidShareClient(http, rs.api_url, rs.login, rs.password)
        self.max_wait = rs.max_wait
        self.account: Account | None = None
        self._tickets: dict[str, tuple[DownloadTicket, float]] = {}  # url -> (ticket, usable at, trio)

    async def check(self) -> None:
        self.account = await self.client.account()
        log.info("RapidShare: %s", "premium account" if self.account.premium else "free downloads")

    def account_lines(self) -> list[str]:
        if self.account is None:
            return []
        if not self.account.premium:
            return ["account: free (downloads wait a countdown)"]
        details = self.account.details
        valid = optional_int(details.get("validuntil")) or 0  # missing keys read as 0 (doc)
        left = optional_int(details.get("premkbleft"))
        traffic = f"{left} kB ({human_size(left * 1000)})" if left is not None else "? kB"
        return [
            f"account: premium, valid until {time.strftime('%Y-%m-%d', time.localtime(valid))}, "
            f"{traffic} traffic left"
        ]

    async def probe(self, url: str) -> LinkInfo:
        fileid, filename = parse_file_url(url)
        checked = await self.client.check_file(fileid, filename)
        name = filename.removesuffix(".html")
        return LinkInfo(name, checked.size, {"md5": checked.md5} if checked.md5 else {})

    def xattrs_for(self, row: LinkRow) -> dict[str, bytes]:
        md5 = row.data.get("md5")
        return {"user.md5": md5.encode()} if md5 else {}

    async def direct_link(self, row: LinkRow, refresh: bool) -> DirectLink:
        if self.account is None:
            await self.check()
        assert self.account is not None
        fileid, filename = parse_file_url(row.url)
        held = self._tickets.get(row.url)
        now = trio.current_time()
        if held is not None and not refresh and now - held[1] < TICKET_TTL:
            ticket, usable_at = held
        else:
            ticket = await self.client.download(fileid, filename)
            # Counted from the reply, not from the request: the server starts the
            # countdown when it answers, and a ticket used early is refused.
            usable_at = trio.current_time() + ticket.countdown
            self._tickets[row.url] = (ticket, usable_at)
            if ticket.md5 and ticket.md5 != row.data.get("md5"):
                row.data["md5"] = ticket.md5
        wait = usable_at - trio.current_time()
        if wait > 0 and not await wait_bounded(wait, trio.current_time() + self.max_wait):
            ready = time.strftime("%H:%M:%S", time.localtime(time.time() + wait))
            raise NotReady(f"free download countdown: usable at {ready} ({wait:.0f}s)")
        if ticket.dlauth in ("", "0"):
            self._tickets.pop(row.url, None)  # premium: nothing to keep
        url = self.client.file_url(ticket, fileid, filename, self.account.cookie)
        # Free downloads are one connection; premium ones may split.
        return DirectLink(url, row.size or 0, None if self.account.premium else 1)
