"""`debridfs login realdebrid`: the OAuth2 device flow for open-source apps.

Asks for a device code with the open-source client id, prints the user code
and the verification URL, polls for the app credentials, trades the device
code for a refresh token, and stores client id/secret and refresh token in
the config dir (mode 0600). The mount then refreshes access tokens itself.
The HTTP calls are the client's (clients/realdebrid.py); this is the command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

import httpx
import trio

from clients.errors import RemoteError
from clients.realdebrid import RealDebridClient, oauth_url_for

from ..config import REALDEBRID_API_URL, REALDEBRID_CREDENTIALS, Config, default_config_path

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 1800.0


def login(args: argparse.Namespace, config: Config) -> int:
    rd = config.realdebrid
    api_url = rd.api_url if rd else REALDEBRID_API_URL
    oauth = (rd.oauth_url if rd and rd.oauth_url else oauth_url_for(api_url)).rstrip("/")
    target = (
        rd.credentials_file
        if rd and rd.credentials_file
        else (config.path or default_config_path()).parent / REALDEBRID_CREDENTIALS
    )
    try:
        stored = trio.run(device_flow, api_url, oauth)
    except (RemoteError, KeyError, ValueError, TimeoutError) as exc:
        print(f"debridfs: Real-Debrid login failed: {type(exc).__name__}: {exc}", flush=True)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(stored, f)
    os.chmod(target, 0o600)
    print(f"debridfs: logged in to Real-Debrid; credentials stored in {target}", flush=True)
    return 0


async def device_flow(api_url: str, oauth: str) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=30) as http:
        client = RealDebridClient(http, api_url, "", oauth_url=oauth)
        device = await client.device_code()
        print(
            f"To log in, open {device.verification_url} and enter the code: {device.user_code}",
            flush=True,
        )
        interval = max(1.0, device.interval)
        deadline = time.monotonic() + min(device.expires_in or LOGIN_TIMEOUT, LOGIN_TIMEOUT)
        while (credentials := await client.device_credentials(device.device_code)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the code was not approved in time")
            await trio.sleep(interval)
        tokens = await client.oauth_token(
            credentials.client_id, credentials.client_secret, device.device_code
        )
        if tokens.refresh_token is None:
            raise RemoteError("Real-Debrid token: the reply has no refresh_token")
        return {
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "refresh_token": tokens.refresh_token,
        }
