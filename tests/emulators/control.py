"""`/_control`: lets tests switch faults and read counters over HTTP.

GET  /_control/stats            request counters and data bytes served
POST /_control/stats/reset
POST /_control/faults           JSON patch, e.g. {"data": {"rate_bps": 25e6}, "api": {"realdebrid": {...}}}
POST /_control/faults/reset
POST /_control/expire_links     revoke every direct link minted so far
GET  /_control/state/{service}  a service's own view (for assertions), if it offers one
POST /_control/{service}/{action}  service-specific actions (e.g. advance time)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .state import EmulatorState, Faults


def build(state: EmulatorState) -> Starlette:
    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(state.stats.snapshot())

    async def stats_reset(request: Request) -> JSONResponse:
        state.stats.reset()
        return JSONResponse({"ok": True})

    async def faults(request: Request) -> JSONResponse:
        try:
            state.faults.update(await request.json())
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def faults_reset(request: Request) -> JSONResponse:
        state.faults = Faults()
        return JSONResponse({"ok": True})

    async def expire_links(request: Request) -> JSONResponse:
        return JSONResponse({"expired": state.links.expire_all()})

    async def service_view(request: Request) -> JSONResponse:
        service = state.services.get(request.path_params["service"])
        if service is None or not hasattr(service, "control_view"):
            return JSONResponse({"error": "no such service"}, status_code=404)
        return JSONResponse(service.control_view())

    async def service_action(request: Request) -> JSONResponse:
        service = state.services.get(request.path_params["service"])
        if service is None or not hasattr(service, "control_action"):
            return JSONResponse({"error": "no such service"}, status_code=404)
        body = await request.body()
        args = await request.json() if body else {}
        try:
            result = service.control_action(request.path_params["action"], args)
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    return Starlette(
        routes=[
            Route("/stats", stats),
            Route("/stats/reset", stats_reset, methods=["POST"]),
            Route("/faults", faults, methods=["POST"]),
            Route("/faults/reset", faults_reset, methods=["POST"]),
            Route("/expire_links", expire_links, methods=["POST"]),
            Route("/state/{service}", service_view),
            Route("/{service}/{action}", service_action, methods=["POST"]),
        ]
    )
