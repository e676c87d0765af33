"""The OpenAPI document, generated from the method declarations."""

from __future__ import annotations

from typing import Any

import msgspec

from kurir import __version__
from kurir.api.registry import Registry
from kurir.domain.errors import ApiError


def _envelope(ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ok", "result"],
        "properties": {"ok": {"const": True}, "result": ref},
    }


def document(registry: Registry) -> dict[str, Any]:
    methods = list(registry)
    types: list[Any] = []
    for m in methods:
        types += [m.params, m.result]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    components["Error"] = {
        "type": "object",
        "required": ["ok", "error"],
        "properties": {
            "ok": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "type", "message"],
                "properties": {
                    "code": {"type": "integer"},
                    "type": {"type": "string", "description": "e.g. PEER_INVALID"},
                    "message": {"type": "string"},
                    "retry_after": {"type": "integer"},
                },
            },
        },
    }
    error_ref = {"$ref": "#/components/schemas/Error"}
    paths: dict[str, Any] = {}
    for i, m in enumerate(methods):
        params, result = schemas[2 * i], schemas[2 * i + 1]
        op: dict[str, Any] = {
            "operationId": m.name,
            "summary": m.summary,
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": params}}},
            "responses": {
                "200": {"description": "success",
                        "content": {"application/json": {"schema": _envelope(result)}}},
                "default": {"description": "an error of the API",
                            "content": {"application/json": {"schema": error_ref}}},
            },
        }
        if m.auth:
            op["security"] = [{"bearer": []}]
        paths[f"/api/v1/{m.name}"] = {"post": op}
    return {
        "openapi": "3.1.0",
        "info": {"title": "kurir client API", "version": __version__,
                 "description": "Methods and updates, on Telegram's model."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "x-error-types": sorted({c.type for c in ApiError.__subclasses__()}),
    }
