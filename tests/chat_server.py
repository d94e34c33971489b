"""A local HTTP server speaking the OpenAI chat completions API, whose answers a test scripts.

``ChatServer(reply)`` serves ``POST /v1/chat/completions``; ``reply(request_body)`` returns
``(status, body)`` (a script that raises answers 500 with its error). Every request body is
kept in ``requests``. Helpers build the bodies a
real API returns: an assistant turn with tool calls, and an error.
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Reply = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | str]]  # a str body is sent as it is
_ids = itertools.count(1)


def tool_calls(*calls: tuple[str, dict[str, Any] | str], model: str = "scripted") -> tuple[int, dict[str, Any]]:
    """A 200 answer whose assistant turn calls these tools (arguments as an object, or raw text)."""
    turns = [{"id": f"call_{next(_ids)}", "type": "function",
              "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
             for name, args in calls]
    return 200, {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": 0, "model": model,
                 "choices": [{"index": 0, "finish_reason": "tool_calls",
                              "message": {"role": "assistant", "content": None, "tool_calls": turns}}],
                 "usage": {"prompt_tokens": 100, "completion_tokens": 10 * len(calls), "total_tokens": 100 + 10 * len(calls)}}


def api_error(status: int, message: str, code: str) -> tuple[int, dict[str, Any]]:
    """An error answer shaped like the OpenAI API's."""
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def tool_results(request: dict[str, Any]) -> list[str]:
    """The tool results the agent sent back so far, in order."""
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


class ChatServer:
    """The scripted chat API on 127.0.0.1 (a context manager); ``base_url`` ends in ``/v1``."""

    def __init__(self, reply: Reply) -> None:
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                owner.requests.append(body)
                try:
                    status, answer = (reply(body) if self.path == "/v1/chat/completions"
                                      else api_error(404, f"no route {self.path}", "not_found"))
                except Exception as exc:  # a failing script shows in the agent's stderr, not as a dropped connection
                    status, answer = api_error(500, f"the test's script failed: {exc!r}", "script_error")
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the agent gave up waiting (its deadline)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "ChatServer":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
