"""HTTP handlers for the shared storage. Files are served as `file_headers` says: as
attachments, never sniffed, sandboxed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute

from agent.core.errors import ApiError, BadRequest
from agent.core.http import QueryParam, api_route, json_response, parse_query
from agent.core.wire import StrictModel
from agent.storage.file_headers import file_headers, security_headers
from agent.storage.manifest import Manifest
from agent.storage.models import StorageDeleted, StorageListing, StoredFile
from agent.storage.service import StorageService

TAG = "storage"
READ_SIZE = 1024 * 1024


class ListQuery(StrictModel):
    prefix: Annotated[str, Field(max_length=1024)] = ""


class UploadQuery(StrictModel):
    path: Annotated[str, Field(max_length=4096)] | None = None
    overwrite: bool = False


class DownloadQuery(StrictModel):
    # Only honoured for inert types (file_headers); anything else stays an attachment.
    inline: bool = False


class RangeNotSatisfiable(ApiError):
    status, code = 416, "RANGE_NOT_SATISFIABLE"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single `bytes=` range; None to send the whole file.
    Several ranges are answered with the whole file, which RFC 9110 allows."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise ValueError
            start, end = max(0, size - length), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        raise _unsatisfiable(size) from None
    end = min(end, size - 1)
    if start < 0 or start > end or start >= size:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        "the requested range is not within the file",
        details={"size": size},
        headers={"Content-Range": f"bytes */{size}", **security_headers()},
    )


async def _upload_stream(request: Request) -> tuple[str | None, AsyncIterator[bytes]]:
    """The file's name (multipart) and its bytes, read as they arrive (multipart parts are
    spooled to disk by the parser, never held whole in memory)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return None, request.stream()
    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise BadRequest("multipart upload needs a `file` field", code="VALIDATION_ERROR")
    given = form.get("path")
    name = given if isinstance(given, str) and given else upload.filename

    async def read() -> AsyncIterator[bytes]:
        try:
            while block := await upload.read(READ_SIZE):
                yield block
        finally:
            await upload.close()

    return name, read()


def build_routes(service: StorageService) -> list[BaseRoute]:
    async def listing(request: Request) -> Response:
        files = await service.listing(parse_query(request, ListQuery).prefix)
        return json_response(StorageListing(files=files, count=len(files)))

    async def upload(request: Request) -> Response:
        query = parse_query(request, UploadQuery)
        name, stream = await _upload_stream(request)
        path = query.path or name
        if not path:
            raise BadRequest(
                "say where to store the file: ?path=… (or a multipart filename)",
                code="VALIDATION_ERROR",
            )
        return json_response(await service.upload(path, stream, query.overwrite), status=201)

    async def download(request: Request) -> Response:
        inline = parse_query(request, DownloadQuery).inline
        manifest = await service.manifest(request.path_params["path"])
        etag = f'"{manifest.sha256}"'
        if request.headers.get("if-none-match") == etag:
            cached = file_headers(manifest.path, inline)
            del cached["Content-Type"]
            return Response(
                status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache", **cached}
            )
        wanted = parse_range(request.headers.get("range"), manifest.size)
        start, end = wanted or (0, manifest.size - 1)
        headers = _headers(manifest, etag, end - start + 1, inline)
        if manifest.size == 0:
            return Response(b"", headers=headers)
        body = service.read(manifest, start, end)
        first = await anext(body)  # fails here, as a proper error, if the data is unreachable

        async def rest() -> AsyncIterator[bytes]:
            yield first
            async for block in body:
                yield block

        if wanted is None:
            return StreamingResponse(rest(), headers=headers)
        headers["Content-Range"] = f"bytes {start}-{end}/{manifest.size}"
        return StreamingResponse(rest(), status_code=206, headers=headers)

    async def delete(request: Request) -> Response:
        return json_response(await service.delete(request.path_params["path"]))

    return [
        api_route(
            "/api/storage",
            listing,
            methods=["GET"],
            tag=TAG,
            summary="Files in the shared storage (optionally under a prefix), with the "
            "nodes holding their data and their health.",
            query=[QueryParam("prefix")],
            answer=StorageListing,
        ),
        api_route(
            "/api/storage/upload",
            upload,
            methods=["POST"],
            tag=TAG,
            success=201,
            summary="Upload a file: multipart form (field `file`) or a raw body with "
            "?path=; streamed, chunked and replicated. An existing path is 409 unless "
            "overwrite=true.",
            query=[QueryParam("path"), QueryParam("overwrite", "boolean")],
            responses={409: "FILE_EXISTS", 507: "INSUFFICIENT_STORAGE"},
            answer=StoredFile,
        ),
        # The file's bytes, not JSON: no answer model.
        api_route(
            "/api/storage/{path:path}",
            download,
            methods=["GET"],
            tag=TAG,
            summary="Download a file (Range requests, ETag = sha256); every chunk is "
            "verified before it is sent. Served as an attachment, nosniff and sandboxed; "
            "inline=true shows images, audio, video and plain text inline.",
            query=[QueryParam("inline", "boolean")],
            responses={
                404: "FILE_NOT_FOUND",
                416: "RANGE_NOT_SATISFIABLE",
                503: "DATA_UNAVAILABLE",
            },
        ),
        api_route(
            "/api/storage/{path:path}",
            delete,
            methods=["DELETE"],
            tag=TAG,
            summary="Delete a file everywhere (a tombstone keeps it from coming back).",
            responses={404: "FILE_NOT_FOUND"},
            answer=StorageDeleted,
        ),
    ]


def _headers(manifest: Manifest, etag: str, length: int, inline: bool) -> dict[str, str]:
    return {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Cache-Control": "no-cache",
        **file_headers(manifest.path, inline),
    }
