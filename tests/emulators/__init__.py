"""Emulators of the remote services debridfs talks to, for tests, the demo and
benchmarks. They follow ../shared/api/ and can inject faults; see `state.py`."""
