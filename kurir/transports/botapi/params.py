"""A Bot API request's parameters: read from wherever the library put them, typed by the
schema of the official documentation.

Libraries send parameters as a query string (GET), a JSON body, a urlencoded form or a
multipart form (with files); in forms every value is a string and objects arrive as JSON
text. Each parameter is turned into the type the documentation gives it; a parameter the
method does not declare is kept as it came (some libraries still send older names).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.datastructures import UploadFile
from starlette.requests import Request

from kurir.domain import errors
from kurir.transports.botapi.schema import METHODS
from kurir.transports.http import read_body

MAX_FORM_FILES = 12  # sendMediaGroup: ten items, and their thumbnails
_decoder = msgspec.json.Decoder()


def bad(text: str) -> errors.ApiError:
    return errors.BAD_REQUEST(f"Bad Request: {text}")


async def read(request: Request, max_body: int) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """The raw parameters (query string and body together) and any uploaded files."""
    raw: dict[str, Any] = dict(request.query_params)
    files: dict[str, UploadFile] = {}
    if request.method != "POST":
        return raw, files
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise errors.PAYLOAD_TOO_LARGE("Request Entity Too Large")  # a form, before parsing
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=MAX_FORM_FILES, max_fields=1000)
        except Exception as e:  # Starlette's MultiPartException and friends
            raise bad(f"can't parse the form: {e}") from None
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                raw[key] = value
        return raw, files
    body = await read_body(request, max_body)
    if body.strip():
        try:
            data = _decoder.decode(body)
        except (msgspec.DecodeError, RecursionError):
            raise bad("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad("can't parse JSON object")
        raw.update(data)
    return raw, files


def typed(method: str, raw: dict[str, Any], files: dict[str, UploadFile]) -> dict[str, Any]:
    """The parameters, each of its documented type; a missing required one is named."""
    out = dict(raw)
    for name, types, required in METHODS.get(method, ()):
        value = raw.get(name)
        if value is None and "InputFile" in types and name in files:
            value = files[name]
        if value is None or (value == "" and types != ("String",)):
            out.pop(name, None)
            if required:
                raise bad(_missing(method, name))
            continue
        out[name] = _coerce(name, value, types, files)
    return out


def _missing(method: str, name: str) -> str:
    if name == "text":
        return "message text is empty"
    if name in ("photo", "document", "video", "audio", "voice"):
        return f"there is no {name} in the request"
    return f"{name} is empty"


def _coerce(name: str, value: Any, types: tuple[str, ...], files: dict[str, UploadFile]) -> Any:
    if isinstance(value, UploadFile):
        if "InputFile" in types:
            return value
        raise bad(f"can't use a file as {name}")
    first = types[0]
    if "InputFile" in types and isinstance(value, str):
        if value.startswith("attach://"):
            found = files.get(value[9:])
            if found is None:
                raise bad(f"file {value} not found in the request")
            return found
        return value
    if first == "Integer" and "String" in types:  # chat_id: a number or an @username
        if isinstance(value, bool):
            raise bad(f"invalid {name}")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            return text
    if first == "Integer":
        return _int(name, value)
    if first == "Float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise bad(f"can't parse {name} as Float") from None
    if first == "Boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0", ""):
            return False
        raise bad(f"can't parse {name} as Boolean")
    if first == "String":
        if isinstance(value, (dict, list)):
            raise bad(f"{name} must be a String")
        return str(value) if not isinstance(value, str) else value
    # an object or an array of them: JSON text in a form or a query string
    if isinstance(value, str):
        try:
            value = _decoder.decode(value)
        except (msgspec.DecodeError, RecursionError):
            raise bad(f"can't parse {name} JSON object") from None
    if first.startswith("Array of"):
        if not isinstance(value, list):
            raise bad(f"{name} must be an Array")
        if first == "Array of Integer":
            return [_int(name, v) for v in value]
        return value
    if not isinstance(value, dict):
        raise bad(f"{name} must be an Object")
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise bad(f"can't parse {name} as Integer")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad(f"can't parse {name} as Integer") from None
