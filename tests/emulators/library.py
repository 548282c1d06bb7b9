"""What the emulated accounts hold. A library is a dict with one section per
service (the section's format belongs to that service's module).

`sample` asks each service module for its `sample_section()`: the demo's small
library. Tests pass their own sections as JSON (a file path or inline text).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from .app import available_services
from .hosters import sample_hoster_links


def sample_library() -> dict[str, Any]:
    library: dict[str, Any] = {"hoster_links": sample_hoster_links()}
    for name in available_services():
        module = importlib.import_module(f"{__package__}.{name}")
        if hasattr(module, "sample_section"):
            library[name] = module.sample_section()
    return library


def load_library(arg: str) -> dict[str, Any]:
    if arg == "sample":
        return sample_library()
    if arg.lstrip().startswith("{"):
        return json.loads(arg)
    return json.loads(Path(arg).read_text())
