"""LITE mode: the sans-I/O core and the WebSocket transport."""
