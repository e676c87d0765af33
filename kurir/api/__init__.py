"""The method registry: every client method declared once (name, params, result, handler)
and served from there by HTTP, WebSocket and the OpenAPI document."""
