"""Command-line tools that work on keelkv's persistence files (keelkv-check-rdb, ...)."""
