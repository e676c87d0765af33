"""The edges: HTTP and WebSocket serve the method registry; later the Bot API and MTProto."""
