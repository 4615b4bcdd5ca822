"""Request bodies of the OpenAI API subset the server implements, validated with pydantic.

Fields the server cannot honour are rejected with 400 rather than silently ignored; unknown fields
are accepted (clients such as the openai SDK send extras) but never change the output. Types are strict
(`max_tokens: "3"` or `true`, `stream: "yes"` are 400s, not guesses), and text must be valid Unicode: JSON
can carry a lone surrogate (`"\\ud800"`) that no tokenizer or UTF-8 encoder accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from .errors import APIError


# A 64-bit seed, as the OpenAI API's integer `seed` is read elsewhere; numpy's generator (sampler.py) takes it.
MAX_SEED = 2**63 - 1


def _valid_unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode: a lone surrogate at position {exc.start}") from None
    return value


Text = Annotated[str, AfterValidator(_valid_unicode)]


def _prompt_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list[str]" if value and all(isinstance(v, str) for v in value) else "list[int]"
    return "str"


# The member is picked from the input's shape, so an error names the one the client meant ("prompt.1").
Prompt = Annotated[Union[Annotated[Text, Tag("str")], Annotated[list[Text], Tag("list[str]")],
                         Annotated[list[int], Tag("list[int]")]], Discriminator(_prompt_kind)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True)

    include_usage: bool = False


class SamplingFields(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: Text
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    # 0 disables top-k (vLLM uses -1; both accepted); the upper bound is the vocabulary (checked in app.py).
    top_k: int = Field(default=0, ge=0)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    stop: Text | list[Text] | None = Field(default=None, validate_default=True)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    ignore_eos: bool = False  # vLLM extension: generate exactly max_tokens (load tests rely on it)
    user: Text | None = None

    @field_validator("top_k", mode="before")
    @classmethod
    def _vllm_top_k(cls, value: Any) -> Any:
        return 0 if type(value) is int and value == -1 else value

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str]:
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences are supported")
        if any(not s for s in stops):
            raise ValueError("stop sequences must be non-empty strings")
        return stops

    def reject_unsupported(self) -> None:
        """400 for parameters whose meaning the server would otherwise drop."""
        if self.n != 1:
            raise APIError(400, "n > 1 is not supported; send several requests", param="n", code="unsupported")
        if self.stream_options is not None and not self.stream:
            raise APIError(400, "stream_options is only allowed with stream=true", param="stream_options")
        extras = self.model_extra or {}
        for name in ("logprobs", "top_logprobs", "best_of", "echo", "logit_bias", "suffix", "tools", "functions",
                     "response_format", "frequency_penalty", "presence_penalty"):
            value = extras.get(name)
            if value in (None, False, 0, [], {}) or (name == "best_of" and value == 1):
                continue
            if name == "response_format" and isinstance(value, dict) and value.get("type") == "text":
                continue
            message = (f"{name} is not supported by this server (the model has no tool support)"
                       if name in ("tools", "functions") else f"{name} is not supported by this server")
            raise APIError(400, message, param=name, code="unsupported")
        tool_choice = extras.get("tool_choice")
        if tool_choice not in (None, "none"):
            raise APIError(400, "tool_choice is not supported (the model has no tool support)", param="tool_choice",
                           code="unsupported")

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: Text | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise APIError(400, "only text content parts are supported", param="messages", code="unsupported")
            try:
                parts.append(_valid_unicode(part["text"]))
            except ValueError as exc:
                raise APIError(400, f"messages: {exc}", param="messages", code="invalid_value") from None
        return "".join(parts)


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _merge_max(self) -> "ChatCompletionRequest":
        # max_completion_tokens is the newer name for max_tokens in the chat API.
        if self.max_tokens is None and self.max_completion_tokens is not None:
            self.max_tokens = self.max_completion_tokens
        return self


class CompletionRequest(SamplingFields):
    prompt: Prompt

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str] | list[int]) -> str | list[int]:
        if isinstance(value, list) and value and isinstance(value[0], str):
            if len(value) != 1:
                raise ValueError("only one prompt per request is supported")
            value = value[0]
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be empty")
        return value
