"""Typed async clients of the remote APIs. They speak HTTP and know nothing of FUSE."""
