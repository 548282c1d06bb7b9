"""debridfs: cloud files (Real-Debrid, Rapidgator, hoster links) as a FUSE filesystem."""
