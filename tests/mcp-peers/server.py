"""An MCP server for Hermes Host's tests, built on the official Python SDK's
`MCPServer` (streamable HTTP; it speaks both protocol eras).

Every HTTP request it receives is appended to the JSON-lines file given by
`--log` (method, tool name, `_meta`, and the `authorization` / `x-api-key`
headers) so tests can assert on what really reached the server. It binds
127.0.0.1 (on `--port`, or a free port) and prints `PORT <n>` once listening.
"""

import argparse
import asyncio
import json
import socket
import sys

import uvicorn
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

mcp = MCPServer("hermes-test-peer")


@mcp.tool()
def echo(text: str) -> str:
    """Returns the text it is given."""
    return f"echo: {text}"


@mcp.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@mcp.tool()
def delete_everything(confirm: str) -> str:
    """A dangerous tool the tests never allowlist."""
    return "deleted everything"


@mcp.tool()
async def sleep(seconds: float) -> str:
    """Waits, then answers."""
    await asyncio.sleep(seconds)
    return "slept"


@mcp.tool()
def big(size: int) -> str:
    """A text result of about `size` bytes."""
    line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n"
    return (line * (size // len(line) + 1))[:size] + "END-OF-BIG"


@mcp.tool()
def fail(reason: str) -> str:
    """Always fails with the reason."""
    raise ToolError(f"failed on purpose: {reason}")


@mcp.tool()
def picture() -> Image:
    """A tiny PNG."""
    return Image(data=b"\x89PNG\r\n\x1a\nfake", format="png")


def logging_app(app, path):
    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        entry = {"http": scope["method"], "headers": {k: headers.get(k) for k in ("authorization", "x-api-key", "mcp-protocol-version", "mcp-session-id", "traceparent")}}
        try:
            rpc = json.loads(body) if body else {}
            entry["method"] = rpc.get("method")
            params = rpc.get("params") or {}
            entry["tool"] = params.get("name")
            entry["meta"] = params.get("_meta")
        except ValueError:
            entry["method"] = None
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await app(scope, replay, send)

    return wrapped


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--json-response", action="store_true")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    args = p.parse_args()
    app = mcp.streamable_http_app(json_response=args.json_response)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: no Nagle / delayed-ACK stalls on small writes.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(logging_app(app, args.log), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    print(f"PORT {port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
