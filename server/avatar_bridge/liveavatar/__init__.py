"""Clients for LiveAvatar: the REST API and the LITE WebSocket."""
