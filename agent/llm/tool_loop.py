"""A chat whose model may call MCP tools (`mcp_servers`): generate, run the calls the model
asks for, feed the results back, generate again, until the model answers in text.

Each round offers the tools; when an answer carries tool calls, every call is announced
(`ChatToolCall`), run through the toolbox (all of a round's calls at once, each within
`mcp_call_timeout`), answered (`ChatToolResult`), and the assistant's calls and one `tool`
message per result join the conversation. After `mcp_tool_rounds` rounds of calls the model is
asked once more without tools, so the chat always ends in text and `done`. A call the model
gets wrong (a tool it was not offered, arguments the tool's schema refuses, a timeout, a server
that is down) is answered as that call's result, marked as an error, for the model to read.

Text streams as it comes. A round that is only tool calls streams nothing: whitespace is held
back until some text follows it; text of two rounds is kept apart by a blank line. The `done`
that ends the loop sums every round's tokens and durations.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from agent.core.errors import ApiError
from agent.core.toolbox import Toolbox, ToolOutcome
from agent.llm.chat import ChatRouter, Messages, Options
from agent.llm.models_streams import (
    ChatToolCall,
    ChatToolResult,
    DoneEvent,
    ErrorEvent,
    FunctionCall,
    GenerationEvent,
    TokenEvent,
    ToolCallsEvent,
)
from agent.llm.tooling import ToolMenu, bounded_text, echoed_arguments

log = logging.getLogger("openfabric.llm")
LoopEvent = TokenEvent | DoneEvent | ErrorEvent | ChatToolCall | ChatToolResult
MAX_CALLS_PER_ROUND = 16
# Beyond the call's own bound: a toolbox that does not end a call in time is not waited for.
CALL_GRACE_S = 5.0
ROUND_SEPARATOR = "\n\n"


@dataclass
class ToolChat:
    router: ChatRouter
    toolbox: Toolbox
    menu: ToolMenu
    node_id: str
    model: str
    options: Options
    rounds: int
    call_timeout: float
    _totals: DoneEvent = field(default_factory=DoneEvent)
    _spoke: bool = False

    async def start(self, messages: Messages) -> AsyncIterator[LoopEvent]:
        """The whole exchange; the first generation's refusals (unknown model, Ollama down, a
        model that cannot call tools) are raised here, before anything streams."""
        first = await self._generate(messages, offer=True)
        return self._converse(list(messages), first)

    async def _generate(self, messages: Messages, *, offer: bool) -> AsyncIterator[GenerationEvent]:
        tools = self.menu.ollama_tools() if offer else None
        return await self.router.generate(
            self.node_id, self.model, messages, self.options, tools=tools
        )

    async def _converse(
        self, messages: Messages, events: AsyncIterator[GenerationEvent]
    ) -> AsyncIterator[LoopEvent]:
        done_rounds = 0
        while True:
            text: list[str] = []
            calls: list[FunctionCall] = []
            async for item in self._round(events, text, calls):
                yield item
                if isinstance(item, ErrorEvent):
                    return
            offered = done_rounds < self.rounds
            if not calls or not offered:
                yield self._totals
                return
            done_rounds += 1
            results: list[ChatToolResult] = []
            async for item in self._run_calls(done_rounds, calls, results):
                yield item
            messages += _exchange("".join(text), calls, results)
            try:
                events = await self._generate(messages, offer=done_rounds < self.rounds)
            except ApiError as exc:
                yield ErrorEvent(error=str(exc))
                return

    async def _round(
        self, events: AsyncIterator[GenerationEvent], text: list[str], calls: list[FunctionCall]
    ) -> AsyncIterator[LoopEvent]:
        held = ""
        async for event in events:
            if isinstance(event, TokenEvent):
                text.append(event.content)
                held += event.content
                if not held.strip():
                    continue
                if not any(piece.strip() for piece in text[:-1]) and self._spoke:
                    held = ROUND_SEPARATOR + held.lstrip()
                self._spoke = True
                yield TokenEvent(content=held)
                held = ""
            elif isinstance(event, ToolCallsEvent):
                calls.extend(event.calls)
            elif isinstance(event, DoneEvent):
                self._add(event)
            else:
                yield event
                return

    def _add(self, done: DoneEvent) -> None:
        totals = self._totals

        def total(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        totals.prompt_tokens = total(totals.prompt_tokens, done.prompt_tokens)
        totals.completion_tokens = total(totals.completion_tokens, done.completion_tokens)
        totals.eval_duration_ns = total(totals.eval_duration_ns, done.eval_duration_ns)
        totals.total_duration_ns = total(totals.total_duration_ns, done.total_duration_ns)
        totals.done_reason = done.done_reason

    async def _run_calls(
        self, round_no: int, calls: list[FunctionCall], results: list[ChatToolResult]
    ) -> AsyncIterator[LoopEvent]:
        announced = [self._announce(round_no, i, call) for i, call in enumerate(calls)]
        for item in announced:
            yield item
        outcomes: list[ChatToolResult | None] = [None] * len(calls)

        async def run(index: int) -> None:
            outcomes[index] = await self._call(announced[index], calls[index], index)

        async with anyio.create_task_group() as group:
            for index in range(len(calls)):
                group.start_soon(run, index)
        for outcome in outcomes:
            assert outcome is not None  # every task set its own
            results.append(outcome)
            yield outcome

    def _announce(self, round_no: int, index: int, call: FunctionCall) -> ChatToolCall:
        spec = self.menu.resolve(call.name)
        return ChatToolCall(
            id=f"call_{round_no}_{index + 1}",
            round=round_no,
            server=spec.server if spec else None,
            tool=spec.name if spec else call.name,
            arguments=echoed_arguments(call.arguments),
            node_id=spec.node_id if spec else None,
        )

    async def _call(
        self, announced: ChatToolCall, call: FunctionCall, index: int
    ) -> ChatToolResult:
        def result(text: str, is_error: bool, duration_ms: float = 0.0) -> ChatToolResult:
            return ChatToolResult(
                id=announced.id,
                round=announced.round,
                server=announced.server,
                tool=announced.tool,
                is_error=is_error,
                text=bounded_text(text),
                duration_ms=duration_ms,
            )

        spec = self.menu.resolve(call.name)
        if spec is None:
            return result(self.menu.unknown(call.name), True)
        if index >= MAX_CALLS_PER_ROUND:
            return result(f"not run: at most {MAX_CALLS_PER_ROUND} calls at once", True)
        outcome: ToolOutcome | None = None
        try:
            with anyio.move_on_after(self.call_timeout + CALL_GRACE_S):
                outcome = await self.toolbox.call(
                    spec.server, spec.name, call.arguments, timeout=self.call_timeout
                )
        except Exception as exc:  # the model reads any failure as the call's result
            log.info("tool call %s/%s failed: %s", spec.server, spec.name, exc)
            return result(f"the call failed: {exc}", True)
        if outcome is None:
            return result(f"the call took longer than {self.call_timeout:g}s", True)
        return result(outcome.text, outcome.is_error, outcome.duration_ms)


def _exchange(text: str, calls: list[FunctionCall], results: list[ChatToolResult]) -> Messages:
    """The assistant's calls and one `tool` message per result, in Ollama's form."""
    asked: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "tool_calls": [{"function": {"name": c.name, "arguments": c.arguments}} for c in calls],
    }
    answers = [
        {
            "role": "tool",
            "content": f"error: {r.text}" if r.is_error else r.text,
            "tool_name": call.name,
        }
        for call, r in zip(calls, results, strict=True)
    ]
    return [asked, *answers]
