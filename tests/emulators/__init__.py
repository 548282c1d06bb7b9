"""Emulators of the remote services debridfs talks to, for tests, the demo and
benchmarks. They follow the facts of docs/providers.md and can inject faults;
see `state.py`."""
