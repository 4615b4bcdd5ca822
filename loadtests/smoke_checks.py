"""The smoke checks: each sends the source chapter's kind of request and judges the answer.

A check is a function ``(endpoint, model) -> reason | None``: None means pass, a string is the
one-line reason it failed. Content judgements are tolerant (the expected number or a code block
must appear, not an exact text), because wording differs between models and engines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Literal

from loadtests.smoke_client import ChatAnswer, OpenAIEndpoint

# The values OpenAI defines for finish_reason; anything else is an engine-specific leak.
FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}

# Room for a reasoning model to think before it answers the math and code prompts.
CONTENT_MAX_TOKENS = 1024

CHAT_PROMPT = "Say hello in one short sentence."
CHAT_MAX_TOKENS = 32

MATH_PROMPT = (
    "A bakery bakes 7 trays of 12 muffins and sells 59 of them. "
    "How many muffins are left? Give the final number."
)
MATH_ANSWER = 25  # 7 * 12 - 59
# Number tokens: not digits inside a word ("w25", "25th"), a decimal ("2.5", "25.5") or a longer number
# ("125", "250"); a sign belongs to the number ("-25"). "25." ending a sentence is the token 25.
NUMBER_TOKEN = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w]|\.\d)")
MATH_WORDS = re.compile(r"\btwenty[- ]five\b", re.IGNORECASE)

CODE_PROMPT = (
    "Write a Python function is_even(n) that returns True when n is even. "
    "Reply with the code in a Markdown code block."
)
CODE_BLOCK_PATTERN = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
IS_EVEN_DEF = re.compile(r"^\s*def\s+is_even\s*\(", re.MULTILINE)  # not is_even_number, not a call

TOOL_RADIUS = 5
TOOL_PROMPT = f"What is the area of a circle with radius {TOOL_RADIUS}? Use the available tool."
TOOL_MAX_TOKENS = 256
CIRCLE_AREA_TOOL = {
    "type": "function",
    "function": {
        "name": "calculate_circle_area",
        "description": "Calculate the area of a circle from its radius.",
        "parameters": {
            "type": "object",
            "properties": {"radius": {"type": "number", "description": "The radius of the circle"}},
            "required": ["radius"],
        },
    },
}

LONG_PROMPT = "Write a long story about a lighthouse keeper and a storm."
SMALL_MAX_TOKENS = 8

COUNT_PROMPT = "Count from 1 to 30, separated by spaces."
COUNT_MAX_TOKENS = 64
STOP_ATTEMPTS = 2
# No tokenizer produces tokens this long on average: more characters per counted token means
# the server under-counts usage (load tests would report too few output tokens).
MAX_CHARS_PER_TOKEN = 40

# Deterministic sampling so a repeated request gives the same text (the stop check relies on it).
GREEDY = {"temperature": 0, "seed": 1}


def _chat_body(model: str, prompt: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, **GREEDY, **extra}


def _http_problem(answer: ChatAnswer) -> str | None:
    if not answer.ok:
        return f"HTTP {answer.status_code}: {answer.error_body}"
    if not answer.completed:
        return f"malformed answer: {answer.error_body or 'stream ended without data: [DONE]'}"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _generated_text(answer: ChatAnswer) -> str:
    """Everything the model generated, in order: a reasoning parser splits the thinking off the
    content, but the engine applies stop strings to both, and a model cut short while thinking
    may state its result only there."""
    return answer.reasoning + answer.content


def usage_problem(answer: ChatAnswer, max_tokens: int) -> str | None:
    """Why ``usage`` does not fit the answer, or None. Load tests count tokens from it, so it must add up."""
    usage = answer.usage
    if not isinstance(usage, dict):
        return "no usage in the answer"
    prompt, completion, total = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if not all(_is_count(v) for v in (prompt, completion, total)):
        return f"usage fields are not token counts: {json.dumps(usage)}"
    if prompt == 0:
        return "usage.prompt_tokens is 0 for a non-empty prompt"
    if total != prompt + completion:
        return f"usage.total_tokens {total} != prompt_tokens {prompt} + completion_tokens {completion}"
    if _generated_text(answer) and completion == 0:
        return "usage.completion_tokens is 0 but the answer has content"
    if completion > max_tokens:
        return f"usage.completion_tokens {completion} > max_tokens {max_tokens}"
    if len(text := _generated_text(answer)) > MAX_CHARS_PER_TOKEN * completion:
        return f"usage.completion_tokens {completion} is too small for {len(text)} characters of output"
    if answer.finish_reason == "length" and completion != max_tokens:
        return f"finish_reason is length but usage.completion_tokens is {completion}, not max_tokens {max_tokens}"
    return None


def _answer_problem(answer: ChatAnswer, max_tokens: int) -> str | None:
    """The shared judgement of a plain chat answer: content, finish_reason, usage."""
    if problem := _http_problem(answer):
        return problem
    if not _generated_text(answer).strip():
        return "empty content"
    if answer.finish_reason is None:
        return "no finish_reason"
    if answer.finish_reason not in FINISH_REASONS:
        return f"finish_reason {answer.finish_reason!r} is not an OpenAI value"
    return usage_problem(answer, max_tokens)


def check_chat(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat(_chat_body(model, CHAT_PROMPT, CHAT_MAX_TOKENS))
    return _answer_problem(answer, CHAT_MAX_TOKENS)


def check_chat_stream(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat_stream(_chat_body(model, CHAT_PROMPT, CHAT_MAX_TOKENS))
    return _answer_problem(answer, CHAT_MAX_TOKENS)


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def math_answer_problem(text: str) -> str | None:
    """Why ``text`` does not answer 25, or None. A run of numbers that merely passes through 25
    (a count "1 2 ... 30", a list) is no answer: it holds 24 and 26 as well."""
    numbers = {float(n) for n in NUMBER_TOKEN.findall(text)}
    if MATH_ANSWER not in numbers and not MATH_WORDS.search(text):
        return f"answer does not contain {MATH_ANSWER}: {_excerpt(text)}"
    if {MATH_ANSWER - 1, MATH_ANSWER + 1} <= numbers:
        return f"answer lists numbers around {MATH_ANSWER} instead of answering: {_excerpt(text)}"
    return None


def check_math(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat(_chat_body(model, MATH_PROMPT, CONTENT_MAX_TOKENS))
    if problem := _http_problem(answer):
        return problem
    return math_answer_problem(_generated_text(answer))


def check_code(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat(_chat_body(model, CODE_PROMPT, CONTENT_MAX_TOKENS))
    if problem := _http_problem(answer):
        return problem
    return code_answer_problem(_generated_text(answer))


def code_answer_problem(text: str) -> str | None:
    """Why ``text`` is not a fenced code block defining is_even, or None."""
    blocks = [body for body in CODE_BLOCK_PATTERN.findall(text) if body.strip()]
    if not blocks:
        return f"answer has no fenced code block: {_excerpt(text)}"
    if not any(IS_EVEN_DEF.search(body) for body in blocks):
        return f"the code block does not define is_even(n): {_excerpt(blocks[0])}"
    return None


def tool_call_problem(tool_calls: list[Any], content: str) -> str | None:
    """Why the answer is not a usable calculate_circle_area call, or None."""
    if not tool_calls:
        if content.strip():
            return f"answered in plain text instead of tool_calls (tool parser missing?): {_excerpt(content)}"
        return "no tool_calls and no content"
    call = tool_calls[0]
    if not isinstance(call, dict):
        return f"tool_calls[0] is not an object: {_excerpt(json.dumps(call))}"
    if not isinstance(call.get("id"), str) or not call["id"]:
        return "tool_calls[0] has no id"
    if call.get("type") != "function":
        return f"tool_calls[0].type is {call.get('type')!r}, not 'function'"
    function = call.get("function")
    if not isinstance(function, dict):
        return "tool_calls[0] has no function object"
    if function.get("name") != "calculate_circle_area":
        return f"tool_calls[0] calls {function.get('name')!r}, not 'calculate_circle_area'"
    raw = function.get("arguments")
    if not isinstance(raw, str):
        return f"tool_calls[0].function.arguments must be a JSON string, got {type(raw).__name__}"
    try:
        arguments = json.loads(raw)
    except ValueError:
        return f"tool_calls[0].function.arguments is not JSON: {_excerpt(raw)}"
    radius = arguments.get("radius") if isinstance(arguments, dict) else None
    if isinstance(radius, bool) or not isinstance(radius, (int, float)):
        return f"tool_calls[0].function.arguments has no numeric radius: {_excerpt(raw)}"
    if radius != TOOL_RADIUS:
        return f"tool_calls[0] asks for radius {radius:g}; the prompt says {TOOL_RADIUS}"
    return None


def check_tool_call(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat(_chat_body(model, TOOL_PROMPT, TOOL_MAX_TOKENS, tools=[CIRCLE_AREA_TOOL], tool_choice="auto"))
    if problem := _http_problem(answer):
        return problem
    return tool_call_problem(answer.tool_calls, answer.content)


def check_max_tokens(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat(_chat_body(model, LONG_PROMPT, SMALL_MAX_TOKENS))
    if problem := _http_problem(answer):
        return problem
    if not isinstance(answer.usage, dict) or not _is_count(answer.usage.get("completion_tokens")):
        return "no usage.completion_tokens to check max_tokens against"
    completion = answer.usage["completion_tokens"]
    if completion > SMALL_MAX_TOKENS:
        return f"max_tokens {SMALL_MAX_TOKENS} ignored: {completion} completion tokens"
    if answer.finish_reason not in ("length", "stop"):
        return f"finish_reason {answer.finish_reason!r} after max_tokens {SMALL_MAX_TOKENS}; expected 'length'"
    return None


def pick_stop_string(text: str) -> str | None:
    """A piece of ``text`` from its second half that first occurs after the start, so stopping on it
    must cut the answer short; a whole word when possible (how users write stop strings)."""
    words = text.split()
    for word in words[len(words) // 2:]:
        if text.find(word) > 0:
            return word
    for pos in range(len(text) // 2, len(text)):
        piece = text[pos:pos + 3]
        if piece.strip() and text.find(piece) > 0:
            return piece
    return None


def check_stop(endpoint: OpenAIEndpoint, model: str) -> str | None:
    # Stop on a string the model is known to produce: taken from an identical request without stop.
    baseline = endpoint.chat(_chat_body(model, COUNT_PROMPT, COUNT_MAX_TOKENS))
    if problem := _http_problem(baseline):
        return f"baseline request: {problem}"
    text = _generated_text(baseline)
    for _attempt in range(STOP_ATTEMPTS):
        stop = pick_stop_string(text)
        if stop is None:
            return f"answer too short to pick a stop string: {_excerpt(text)}"
        answer = endpoint.chat(_chat_body(model, COUNT_PROMPT, COUNT_MAX_TOKENS, stop=[stop]))
        if problem := _http_problem(answer):
            return problem
        text = _generated_text(answer)
        if stop in text:
            return f"stop {stop!r} ignored: it appears in the answer {_excerpt(text)}"
        if answer.finish_reason == "stop":
            return None
        # Neither stopped nor containing the stop string: greedy decoding diverged from the
        # baseline (batching on GPUs is not bit-exact). Try again with a string from this answer.
    return f"finish_reason is {answer.finish_reason!r} after stop {stop!r}; expected 'stop'"


def check_invalid_request(endpoint: OpenAIEndpoint, model: str) -> str | None:
    answer = endpoint.chat(_chat_body(model, CHAT_PROMPT, -1))
    if 400 <= answer.status_code < 500:
        return None
    if answer.ok:
        return f"max_tokens -1 accepted with HTTP {answer.status_code}; expected a 4xx rejection"
    return f"max_tokens -1 answered HTTP {answer.status_code} (a server error); expected a 4xx rejection"


@dataclass(frozen=True)
class Check:
    name: str
    prompt: str
    run: Callable[[OpenAIEndpoint, str], str | None]
    # "protocol" always runs; "content" is skippable per model; "tools" runs only for --expect-tools models
    kind: Literal["protocol", "content", "tools"] = "protocol"


CHECKS: tuple[Check, ...] = (
    Check("chat", CHAT_PROMPT, check_chat),
    Check("chat_stream", CHAT_PROMPT, check_chat_stream),
    Check("math", MATH_PROMPT, check_math, kind="content"),
    Check("code", CODE_PROMPT, check_code, kind="content"),
    Check("tool_call", TOOL_PROMPT, check_tool_call, kind="tools"),
    Check("max_tokens", LONG_PROMPT, check_max_tokens),
    Check("stop", COUNT_PROMPT, check_stop),
    Check("invalid_request", f"{CHAT_PROMPT} (max_tokens -1)", check_invalid_request),
)
