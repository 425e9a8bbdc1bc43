"""`mlops serve`: the registry over HTTP (aiohttp, imported only by that command)."""
