"""Small wrappers over Docker and Git that speak in this tool's errors, never a traceback."""
