"""Unit tests: pure pieces, no mount, no emulator, fast (the whole layer in seconds)."""
