#!/usr/bin/env python3
"""Chat-template goldens for loom: conversations rendered through the published Gemma 4 chat template.

Reads the template from shared/reference/gemma-4-12B-it/chat_template.jinja at run time (it is never
copied into the repo) and renders every case exactly as transformers does:
`tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, **kwargs)`, with a GemmaTokenizer
built from the published Gemma 4 tokenizer_config.json (so `bos_token` and the other special-token
variables the template could read are the real ones) and `chat_template` set to the file's text.

Writes into --out (default tests/fixtures/chat/):
  cases.jsonl   one JSON object per line, keys sorted:
                {"name", "messages", "tools" (list or null), "kwargs" (passed as **kwargs to
                 apply_chat_template: add_generation_prompt, enable_thinking, ...), "expected"}
                expected is the rendered string, or {"error": message, "error_type": class name}
                when transformers/the template raises for that input.
  meta.json     template SHA-256, versions, counts.

Deterministic: two runs give byte-identical files. Every case is serialized first and rendered from the
parsed JSON, so what the file holds is exactly what was rendered (including dict key order).

Usage:
  .cache/venv-reference/bin/python scripts/reference/make_chat_goldens.py [--out DIR] [--template PATH]
"""

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def find_reference_dir():
    for cand in (REPO / "shared" / "reference", REPO.parent / "shared" / "reference", Path("/work/shared/reference")):
        if (cand / "gemma-4-12B-it" / "chat_template.jinja").is_file():
            return cand
    return REPO / "shared" / "reference"


_LINE_BREAKERS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029", "\x7f": "\\u007f"}


def jdump(obj, **kw):
    s = json.dumps(obj, ensure_ascii=False, sort_keys=True, allow_nan=False, **kw)
    for ch, esc in _LINE_BREAKERS.items():
        s = s.replace(ch, esc)
    return s


# ---------------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------------


def fn(name, description, parameters=None, **extra):
    f = {"name": name, "description": description}
    if parameters is not None:
        f["parameters"] = parameters
    f.update(extra)
    return {"type": "function", "function": f}


# The example from SPEC §7.3.
T_WEATHER = fn("get_weather", "Get weather", {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
})

T_SEARCH = fn("search_web", "Search the web and return the top results.", {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "The search query."},
        "limit": {"type": "integer", "description": "How many results (1-10)."},
    },
    "required": ["query"],
})

T_EVENT = fn("create_event", "Create a calendar event.\nThe \"title\" is shown to attendees; dates are ISO 8601 — e.g. 2026-07-09.", {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "Title of the \"event\" (max 80 chars)"},
        "start": {"type": "string", "description": "Début — 開始 — ISO-8601 start time"},
        "duration_minutes": {"type": "integer", "description": "Length in minutes"},
        "budget": {"type": "number", "description": "Budget in EUR; may be fractional"},
        "recurring": {"type": "boolean", "description": "Whether the event repeats"},
        "visibility": {"type": "string", "enum": ["public", "private", "confidential"], "description": "Who can see it"},
        "notes": {"type": "string", "nullable": True, "description": "Free text,\nmay span lines"},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels"},
        "attendees": {
            "type": "array",
            "description": "People invited",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Full name"},
                    "email": {"type": "string", "description": "E-mail address"},
                    "role": {"type": "string", "enum": ["required", "optional", "organizer"]},
                },
                "required": ["name", "email"],
            },
        },
        "location": {
            "type": "object",
            "description": "Where it happens",
            "properties": {
                "address": {
                    "type": "object",
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"type": "string", "description": "City"},
                        "zip": {"type": "string", "nullable": True},
                    },
                    "required": ["city"],
                },
                "lat": {"type": "number"},
                "lon": {"type": "number"},
            },
            "required": ["address"],
        },
    },
    "required": ["title", "start", "attendees"],
})

T_NO_PARAMS = fn("get_time", "Return the current UTC time.")
T_EMPTY_PARAMS = fn("ping", "Check that the service is up.", {"type": "object", "properties": {}})
T_RESPONSE = fn("lookup_stock", "Look up a stock price.", {
    "type": "object",
    "properties": {"ticker": {"type": "string", "description": "e.g. GOOG"}},
    "required": ["ticker"],
}, response={"type": "object", "description": "Price and currency"})
T_TYPE_LIST = fn("set_option", "Set an option; value may be null.", {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "value": {"type": ["string", "null"], "description": "A type given as a list"},
        "choices": {"type": "array", "items": {"type": ["string", "integer"]}},
    },
    "required": ["key"],
})
T_ADDITIONAL = fn("put_metadata", "Attach arbitrary metadata.", {
    "type": "object",
    "properties": {
        "metadata": {"type": "object", "description": "Free-form map", "additionalProperties": {"type": "string"}},
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "untyped": {"description": "A parameter without a type"},
    },
})
T_MIXED_KEYS = fn("sort_me", "Keys are sorted case-insensitively by dictsort.", {
    "type": "object",
    "properties": {
        "Zeta": {"type": "string"},
        "alpha": {"type": "integer"},
        "Beta": {"type": "boolean"},
        "_private": {"type": "string"},
        "a1": {"type": "number"},
        "a_b": {"type": "string"},
    },
    "required": ["alpha", "Zeta"],
})
T_TRICKY_DESC = fn("echo", "Echo text back. Special-looking: <|\"|> <|turn>user <turn|> {braces} [brackets] \\backslash \"quotes\" 'single' 😀", {
    "type": "object",
    "properties": {"text": {"type": "string", "description": "Text with <|tool_call> inside and a trailing newline\n"}},
    "required": ["text"],
})
T_UPPER = fn("already_upper", "Types already upper-case.", {
    "TYPE": "ignored",
    "type": "OBJECT",
    "properties": {"x": {"type": "STRING", "enum": ["A", "B"]}, "n": {"type": "Integer"}},
    "required": ["x"],
})


def call(name, arguments, call_id=None):
    c = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        c["id"] = call_id
    return c


def user(content, **kw):
    return {"role": "user", "content": content, **kw}


def assistant(content=None, **kw):
    m = {"role": "assistant"}
    if content is not None:
        m["content"] = content
    m.update(kw)
    return m


def system(content):
    return {"role": "system", "content": content}


def tool(content, **kw):
    return {"role": "tool", "content": content, **kw}


# ---------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------


def build_cases():
    cases = []

    def add(name, messages, tools=None, **kwargs):
        cases.append({"name": name, "messages": messages, "tools": tools, "kwargs": kwargs})

    hi = [user("Hello!")]
    add("user_only_no_gen", hi, add_generation_prompt=False)
    add("user_only_gen", hi, add_generation_prompt=True)
    add("user_only_gen_thinking_false", hi, add_generation_prompt=True, enable_thinking=False)
    add("user_only_gen_thinking_true", hi, add_generation_prompt=True, enable_thinking=True)
    add("user_only_no_gen_thinking_true", hi, add_generation_prompt=False, enable_thinking=True)
    add("user_only_kwargs_absent", hi)

    sys_hi = [system("You are a helpful assistant."), user("Hi there")]
    add("system_user_gen", sys_hi, add_generation_prompt=True)
    add("system_user_gen_thinking", sys_hi, add_generation_prompt=True, enable_thinking=True)
    add("developer_user_gen", [{"role": "developer", "content": "  Answer in French.\n"}, user("What is the capital of Italy?")], add_generation_prompt=True)
    add("system_padded_whitespace_trimmed", [system("\n\n  Be concise.  \t\n"), user("  spaced user text  \n")], add_generation_prompt=True)
    add("system_list_content", [{"role": "system", "content": [{"type": "text", "text": " Part one. "}, {"type": "text", "text": "Part two."}]}, user("Go")], add_generation_prompt=True)
    add("system_list_with_image_part", [{"role": "system", "content": [{"type": "text", "text": "Look:"}, {"type": "image"}]}, user("Describe")], add_generation_prompt=True)
    add("system_only_gen", [system("Only a system prompt.")], add_generation_prompt=True)
    add("system_empty_string", [system(""), user("x")], add_generation_prompt=True)
    add("system_in_middle", [user("first"), system("Late system instruction"), user("second")], add_generation_prompt=True)
    add("developer_in_middle", [user("first"), {"role": "developer", "content": "dev note"}, user("second")], add_generation_prompt=True)

    multi = [
        user("What's 2+2?"),
        assistant("4"),
        user("And 3+3?"),
        assistant("6."),
        user("Thanks! Now multiply them."),
    ]
    add("multi_turn_gen", multi, add_generation_prompt=True)
    add("multi_turn_gen_thinking", multi, add_generation_prompt=True, enable_thinking=True)
    add("multi_turn_ends_with_assistant_no_gen", multi[:4], add_generation_prompt=False)
    add("multi_turn_ends_with_assistant_gen", multi[:4], add_generation_prompt=True)
    long_conv = []
    for k in range(10):
        long_conv.append(user(f"Question {k}: how many legs does a {['cat', 'bird', 'spider', 'ant', 'snake'][k % 5]} have?"))
        long_conv.append(assistant(f"Answer {k}: {[4, 2, 8, 6, 0][k % 5]}."))
    long_conv.append(user("Summarize."))
    add("long_conversation", [system("Zoology quiz.")] + long_conv, add_generation_prompt=True, enable_thinking=False)
    add("consecutive_user_messages", [user("part 1"), user("part 2")], add_generation_prompt=True)
    add("consecutive_assistant_messages", [user("Tell me two things."), assistant("First thing."), assistant("Second thing."), user("ok")], add_generation_prompt=True)

    # Thinking / reasoning in history.
    add("assistant_content_with_channel_markup_stripped", [
        user("Why is the sky blue?"),
        assistant("<|channel>thought\nRayleigh scattering...<channel|>Because of Rayleigh scattering."),
        user("And sunsets?"),
    ], add_generation_prompt=True, enable_thinking=True)
    add("reasoning_content_before_last_user_dropped", [
        user("Q1"),
        assistant("A1", reasoning_content="secret reasoning 1"),
        user("Q2"),
    ], add_generation_prompt=True, enable_thinking=True)
    add("reasoning_content_after_last_user_rendered", [
        user("Q1"),
        assistant("A1", reasoning_content="visible reasoning after the last user message"),
    ], add_generation_prompt=False, enable_thinking=True)
    add("reasoning_key_alias", [user("Q"), assistant("A", reasoning="reasoning given under 'reasoning'")], add_generation_prompt=False)
    add("thinking_key_alias", [user("Q"), assistant("A", thinking="reasoning given under 'thinking'")], add_generation_prompt=False)
    add("reasoning_before_and_after_last_user", [
        user("Q1"),
        assistant("A1", reasoning_content="old thoughts"),
        user("Q2"),
        assistant("A2", reasoning_content="new thoughts"),
    ], add_generation_prompt=True, enable_thinking=True)
    add("assistant_content_list_with_channel_markup", [
        user("Hi"),
        assistant([{"type": "text", "text": "<|channel>thought\nhmm<channel|>Hello "}, {"type": "text", "text": " again"}]),
        user("Bye"),
    ], add_generation_prompt=True)

    # Tools: declarations.
    add("spec_tool_declaration_get_weather", [user("Weather in Paris?")], [T_WEATHER], add_generation_prompt=True)
    add("tools_with_system", [system("You can call tools."), user("Find cows.")], [T_SEARCH, T_WEATHER], add_generation_prompt=True)
    add("tools_with_system_and_thinking", [system("You can call tools."), user("Find cows.")], [T_SEARCH], add_generation_prompt=True, enable_thinking=True)
    add("tool_nested_schema", [user("Book a meeting")], [T_EVENT], add_generation_prompt=True)
    add("tool_no_parameters", [user("What time is it?")], [T_NO_PARAMS], add_generation_prompt=True)
    add("tool_empty_properties", [user("ping")], [T_EMPTY_PARAMS], add_generation_prompt=True)
    add("tool_with_response_declaration", [user("GOOG?")], [T_RESPONSE], add_generation_prompt=True)
    add("tool_type_as_list", [user("set it")], [T_TYPE_LIST], add_generation_prompt=True)
    add("tool_additional_properties_and_nested_arrays", [user("meta")], [T_ADDITIONAL], add_generation_prompt=True)
    add("tool_mixed_case_keys", [user("sort")], [T_MIXED_KEYS], add_generation_prompt=True)
    add("tool_tricky_description", [user("echo")], [T_TRICKY_DESC], add_generation_prompt=True)
    add("tool_upper_case_types", [user("upper")], [T_UPPER], add_generation_prompt=True)
    add("tools_many", [user("all tools")], [T_WEATHER, T_SEARCH, T_EVENT, T_NO_PARAMS, T_EMPTY_PARAMS, T_RESPONSE, T_TYPE_LIST, T_ADDITIONAL, T_MIXED_KEYS, T_TRICKY_DESC, T_UPPER], add_generation_prompt=True, enable_thinking=True)
    add("tools_empty_list", [user("no tools")], [], add_generation_prompt=True)

    # Tool calls and responses.
    spec_call = call("get_weather", {"city": "Paris", "days": 3, "metric": True, "opts": {"a": 1}, "tags": ["x"]}, "call_1")
    add("spec_tool_call_dict_arguments_legacy_mapping_response", [
        user("Weather in Paris for 3 days?"),
        assistant(tool_calls=[spec_call], tool_responses=[{"name": "get_weather", "response": {"temperature": "15C", "ok": True}}]),
    ], [T_WEATHER], add_generation_prompt=True)
    add("spec_tool_call_dict_arguments_tool_message_string", [
        user("Weather in Paris for 3 days?"),
        assistant(tool_calls=[spec_call]),
        tool(json.dumps({"temperature": "15C", "ok": True}), tool_call_id="call_1"),
    ], [T_WEATHER], add_generation_prompt=True)
    add("tool_message_mapping_content_raises", [
        user("Weather in Paris for 3 days?"),
        assistant(tool_calls=[spec_call]),
        tool({"temperature": "15C", "ok": True}, tool_call_id="call_1"),
    ], [T_WEATHER], add_generation_prompt=True)
    add("spec_search_web_call", [
        user("Search for cows"),
        assistant(tool_calls=[call("search_web", {"query": "cows", "limit": 2}, "c1")]),
        tool("Cows are large domesticated ungulates.", tool_call_id="c1"),
        assistant("Cows are large domesticated ungulates."),
    ], [T_SEARCH], add_generation_prompt=False)
    add("tool_call_string_arguments_raises", [
        user("Weather?"),
        assistant(tool_calls=[call("get_weather", "{\"city\": \"Paris\"}", "c1")]),
        tool("sunny", tool_call_id="c1"),
    ], [T_WEATHER], add_generation_prompt=True)
    add("tool_call_null_arguments", [
        user("time?"),
        assistant(tool_calls=[call("get_time", None, "t1")]),
        tool("12:00Z", tool_call_id="t1"),
    ], [T_NO_PARAMS], add_generation_prompt=True)
    add("tool_call_no_response_yet", [
        user("Weather in Oslo?"),
        assistant(tool_calls=[call("get_weather", {"city": "Oslo"}, "c9")]),
    ], [T_WEATHER], add_generation_prompt=True)
    add("tool_call_no_response_yet_thinking", [
        user("Weather in Oslo?"),
        assistant(tool_calls=[call("get_weather", {"city": "Oslo"}, "c9")], reasoning_content="I should call get_weather."),
    ], [T_WEATHER], add_generation_prompt=True, enable_thinking=True)
    add("parallel_tool_calls_and_responses", [
        user("Weather in Paris and London, and search for umbrellas"),
        assistant(tool_calls=[
            call("get_weather", {"city": "Paris"}, "a"),
            call("get_weather", {"city": "London"}, "b"),
            call("search_web", {"query": "umbrellas", "limit": 5}, "c"),
        ]),
        tool('{"temp_c": 21.5, "sky": "clear"}', tool_call_id="a"),
        tool('{"temp_c": 14, "sky": "rain"}', tool_call_id="b"),
        tool("Umbrella results: ...", tool_call_id="c"),
    ], [T_WEATHER, T_SEARCH], add_generation_prompt=True)
    add("tool_responses_then_answer_then_user", [
        user("Weather in Paris?"),
        assistant(tool_calls=[call("get_weather", {"city": "Paris"}, "p")]),
        tool("21 °C", tool_call_id="p"),
        assistant("It is 21 °C in Paris."),
        user("Thanks, and tomorrow?"),
    ], [T_WEATHER], add_generation_prompt=True, enable_thinking=True)
    add("tool_response_gen_prompt_thinking", [
        user("Weather in Paris?"),
        assistant(tool_calls=[call("get_weather", {"city": "Paris"}, "p")], reasoning_content="Need the weather tool."),
        tool('{"temp_c": 21}', tool_call_id="p"),
    ], [T_WEATHER], add_generation_prompt=True, enable_thinking=True)
    add("tool_response_no_gen", [
        user("Weather in Paris?"),
        assistant(tool_calls=[call("get_weather", {"city": "Paris"}, "p")]),
        tool('{"temp_c": 21}', tool_call_id="p"),
    ], [T_WEATHER], add_generation_prompt=False)
    add("sequential_tool_rounds", [
        user("Plan a trip"),
        assistant(tool_calls=[call("search_web", {"query": "best time to visit Kyoto"}, "s1")], reasoning_content="First search."),
        tool("Spring and autumn.", tool_call_id="s1"),
        assistant(tool_calls=[call("get_weather", {"city": "Kyoto"}, "w1")], reasoning_content="Then weather."),
        tool("18 °C, cloudy", tool_call_id="w1"),
        assistant("Go in spring; it is 18 °C and cloudy now.", reasoning_content="Summarize."),
    ], [T_SEARCH, T_WEATHER], add_generation_prompt=False, enable_thinking=True)
    add("preserve_thinking_tool_calls_before_last_user", [
        user("Plan a trip"),
        assistant(tool_calls=[call("search_web", {"query": "Kyoto"}, "s1")], reasoning_content="Kept because preserve_thinking."),
        tool("Nice city.", tool_call_id="s1"),
        assistant("Kyoto is nice.", reasoning_content="Dropped: no tool calls."),
        user("More?"),
    ], [T_SEARCH], add_generation_prompt=True, enable_thinking=True, preserve_thinking=True)
    add("preserve_thinking_false_same_history", [
        user("Plan a trip"),
        assistant(tool_calls=[call("search_web", {"query": "Kyoto"}, "s1")], reasoning_content="Kept because preserve_thinking."),
        tool("Nice city.", tool_call_id="s1"),
        assistant("Kyoto is nice.", reasoning_content="Dropped: no tool calls."),
        user("More?"),
    ], [T_SEARCH], add_generation_prompt=True, enable_thinking=True, preserve_thinking=False)
    args_types = {
        "int": 42, "neg": -7, "zero": 0, "big": 12345678901234567890, "float": 3.5, "float_int": 1.0, "small": 1e-07,
        "huge": 1e+20, "negzero": -0.0, "tenth": 0.1, "t": True, "f": False, "none": None,
        "str": "He said \"hi\" <|\"|> and left", "uni": "naïve 日本 😀 \u00a0nbsp", "empty": "", "nl": "line1\nline2",
        "list": [1, "two", 3.0, None, [4, {"k": "v"}]], "obj": {"Zed": 1, "alpha": {"deep": [True, False]}, "Beta": "b"},
        "emptylist": [], "emptyobj": {},
    }
    add("tool_call_argument_types", [
        user("Do it"),
        assistant(tool_calls=[call("sort_me", args_types, "x1")], tool_responses=[{"name": "sort_me", "response": {"result": args_types, "status": "ok"}}]),
        assistant("Done."),
    ], [T_MIXED_KEYS], add_generation_prompt=True)
    add("tool_call_key_case_ties", [
        user("ties"),
        assistant(tool_calls=[call("sort_me", {"b": 1, "B": 2, "a": 3, "A": 4, "zebra": 5, "Éclair": 6, "eclair": 7, "Ωmega": 8, "ωmega": 9, "_x": 10, "1st": 11, "Z9": 12}, "k1")], tool_responses=[{"name": "sort_me", "response": {"y": 1, "Y": 2}}]),
    ], [T_MIXED_KEYS], add_generation_prompt=True)
    add("tool_response_string", [user("q"), assistant(tool_calls=[call("get_time", {}, "t")]), tool("12:00 UTC", tool_call_id="t")], [T_NO_PARAMS], add_generation_prompt=True)
    add("tool_response_number", [user("q"), assistant(tool_calls=[call("get_time", {}, "t")]), tool(1720000000, tool_call_id="t")], [T_NO_PARAMS], add_generation_prompt=True)
    add("tool_response_float", [user("q"), assistant(tool_calls=[call("get_time", {}, "t")]), tool(2.5, tool_call_id="t")], [T_NO_PARAMS], add_generation_prompt=True)
    add("tool_response_bool", [user("q"), assistant(tool_calls=[call("ping", {}, "t")]), tool(True, tool_call_id="t")], [T_EMPTY_PARAMS], add_generation_prompt=True)
    add("tool_response_null_content", [user("q"), assistant(tool_calls=[call("ping", {}, "t")]), tool(None, tool_call_id="t")], [T_EMPTY_PARAMS], add_generation_prompt=True)
    add("legacy_tool_response_nested_mapping", [
        user("q"),
        assistant(tool_calls=[call("lookup_stock", {"ticker": "GOOG"}, "s")], tool_responses=[{"name": "lookup_stock", "response": {"price": 181.25, "currency": "USD", "history": [{"d": "2026-07-08", "p": 180.0}], "meta": {"Source": "x", "delayed": False}}}]),
    ], [T_RESPONSE], add_generation_prompt=True)
    add("tool_response_content_parts", [
        user("Show me"),
        assistant(tool_calls=[call("search_web", {"query": "cat pictures"}, "s")]),
        tool([{"type": "text", "text": "Found 2 images: "}, {"type": "image"}, {"type": "text", "text": "and a clip"}, {"type": "video"}, {"type": "audio"}], tool_call_id="s"),
    ], [T_SEARCH], add_generation_prompt=True)
    add("tool_response_list_of_numbers_raises", [
        user("q"),
        assistant(tool_calls=[call("get_time", {}, "t")]),
        tool([1, 2, 3], tool_call_id="t"),
    ], [T_NO_PARAMS], add_generation_prompt=True)
    add("tool_response_name_fallback", [
        user("q"),
        assistant(tool_calls=[call("get_time", {}, "t1")]),
        tool("by name", name="get_time_by_name", tool_call_id="nomatch"),
        tool("unknown name", tool_call_id="nomatch2"),
    ], [T_NO_PARAMS], add_generation_prompt=True)
    add("orphan_tool_message_skipped", [user("q"), tool("orphan", tool_call_id="zz"), assistant("ok")], None, add_generation_prompt=True)
    add("legacy_tool_responses_on_assistant", [
        user("Weather?"),
        assistant(tool_calls=[call("get_weather", {"city": "Rome"})], tool_responses=[{"name": "get_weather", "response": {"temp_c": 30}}]),
        assistant("Hot: 30 °C."),
        user("ok"),
    ], [T_WEATHER], add_generation_prompt=True)
    add("legacy_tool_responses_non_mapping_and_no_name", [
        user("Weather?"),
        assistant(tool_calls=[call("get_weather", {"city": "Rome"})], tool_responses=[{"response": "sunny"}, {"name": "", "response": 7}]),
    ], [T_WEATHER], add_generation_prompt=True)
    add("assistant_content_and_tool_calls", [
        user("Weather?"),
        assistant("Let me check.", tool_calls=[call("get_weather", {"city": "Rome"}, "r")]),
        tool("30 °C", tool_call_id="r"),
        assistant("It is 30 °C."),
    ], [T_WEATHER], add_generation_prompt=False)
    add("assistant_null_content_with_tool_calls", [
        user("Weather?"),
        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", {"city": "Rome"}, "r")]},
        tool("30 °C", tool_call_id="r"),
    ], [T_WEATHER], add_generation_prompt=True)

    # Multimodal content parts.
    add("user_parts_text_image_audio_video", [user([
        {"type": "text", "text": "Compare these:"},
        {"type": "image", "url": "https://example.com/a.png"},
        {"type": "audio", "path": "clip.wav"},
        {"type": "video", "path": "movie.mp4"},
        {"type": "text", "text": "  which is best?  "},
    ])], add_generation_prompt=True)
    add("user_parts_openai_style", [user([
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "text", "text": "What do you see and hear?"},
        {"type": "unknown_kind", "text": "ignored?"},
    ])], add_generation_prompt=True)
    add("user_parts_images_only", [user([{"type": "image"}, {"type": "image"}])], add_generation_prompt=True, enable_thinking=True)
    add("user_parts_empty_list", [user([])], add_generation_prompt=True)

    # Empty / whitespace / odd content.
    add("user_empty_string", [user("")], add_generation_prompt=True)
    add("user_whitespace_only", [user(" \n\t  \n")], add_generation_prompt=True)
    add("user_unicode_whitespace_trimmed", [user("\u00a0\u3000 hello \u2003\u00a0")], add_generation_prompt=True)
    add("user_zero_width_not_trimmed", [user("\u200bhello\u200b")], add_generation_prompt=True)
    add("assistant_empty_string", [user("say nothing"), assistant(""), user("ok")], add_generation_prompt=True)
    add("user_content_missing_key", [{"role": "user"}], add_generation_prompt=True)
    add("user_content_null", [{"role": "user", "content": None}], add_generation_prompt=True)
    add("user_special_looking_text", [user("Please print <|turn>model\nhi<turn|> and <bos><eos> and <|\"|> and <|tool_call>call:x{}<tool_call|> literally.")], add_generation_prompt=True)
    add("user_channel_markup_not_stripped", [user("<|channel>thought\nuser-side<channel|>visible")], add_generation_prompt=True)
    add("user_unicode_mix", [user("Grüße 👋🏽 from Zürich — 日本語 / العربية / עברית / हिन्दी / ไทย / 한국어 \U0001d54f 👩\u200d👩\u200d👧\u200d👦 🇫🇷")], add_generation_prompt=True)
    add("user_gemma3_turn_strings", [user("<start_of_turn>user\nold format<end_of_turn>")], add_generation_prompt=True)
    add("user_jinja_looking_text", [user("{{ bos_token }} {% if x %}y{% endif %} {# c #}")], add_generation_prompt=True)

    # Roles and errors.
    add("unknown_role_rendered_verbatim", [{"role": "narrator", "content": "Once upon a time"}, user("Continue")], add_generation_prompt=True)
    add("missing_role_raises", [{"content": "no role"}], add_generation_prompt=True)
    add("empty_conversation_raises", [], add_generation_prompt=True)
    add("user_content_dict_raises", [user({"text": "a dict is not a list of parts"})], add_generation_prompt=True)
    add("tool_call_missing_function_raises", [user("q"), assistant(tool_calls=[{"id": "x", "type": "function"}])], [T_NO_PARAMS], add_generation_prompt=True)

    # continue_final_message (transformers feature; cannot be combined with add_generation_prompt).
    add("continue_final_message", [user("Write a haiku"), assistant("Autumn moonlight")], continue_final_message=True)
    add("continue_final_message_with_gen_prompt_raises", [user("Write a haiku"), assistant("Autumn")], add_generation_prompt=True, continue_final_message=True)
    return cases


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


def make_tokenizer(reference_dir, template):
    from transformers import GemmaTokenizer

    cfg = json.loads((reference_dir / "gemma-4-12B-it" / "tokenizer_config.json").read_text())
    # Keep the special-token names/strings; drop what describes files or processors.
    kw = {k: v for k, v in cfg.items() if k not in ("response_schema", "processor_class", "tokenizer_class", "backend", "model_max_length")}
    tok = GemmaTokenizer(**kw)
    tok.chat_template = template
    return tok


def render(tok, case):
    try:
        out = tok.apply_chat_template(copy.deepcopy(case["messages"]), tools=copy.deepcopy(case["tools"]), tokenize=False, **case["kwargs"])
        assert isinstance(out, str)
        return out
    except Exception as e:  # the template's raise_exception (TemplateError), jinja UndefinedError, transformers ValueError
        return {"error": str(e), "error_type": type(e).__name__}


def package_versions():
    import importlib.metadata as md

    vers = {"python": sys.version.split()[0]}
    for pkg in ("transformers", "tokenizers", "jinja2"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = None
    return vers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "chat"))
    ap.add_argument("--template", default=None, help="chat_template.jinja (default: shared/reference/gemma-4-12B-it/)")
    args = ap.parse_args()

    reference_dir = find_reference_dir()
    template_path = Path(args.template) if args.template else reference_dir / "gemma-4-12B-it" / "chat_template.jinja"
    template_bytes = template_path.read_bytes()
    template = template_bytes.decode("utf-8")
    template_sha = hashlib.sha256(template_bytes).hexdigest()

    import transformers

    transformers.logging.set_verbosity_error()
    tok = make_tokenizer(reference_dir, template)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = set()
    lines = []
    n_err = 0
    errors = []
    for case in build_cases():
        assert case["name"] not in names, case["name"]
        names.add(case["name"])
        # Serialize first, render from the parsed JSON: the file then holds exactly what was rendered.
        case = json.loads(jdump(case))
        case["expected"] = render(tok, case)
        if isinstance(case["expected"], dict):
            n_err += 1
            errors.append((case["name"], case["expected"]["error_type"], case["expected"]["error"][:120]))
        lines.append(jdump(case) + "\n")
    cases_bytes = "".join(lines).encode("utf-8")
    (out / "cases.jsonl").write_bytes(cases_bytes)

    meta = {
        "template": {
            "path": "shared/reference/gemma-4-12B-it/chat_template.jinja (read at generation time, not copied)",
            "bytes": len(template_bytes),
            "sha256": template_sha,
        },
        "renderer": "GemmaTokenizer(**gemma-4-12B-it/tokenizer_config.json minus file/processor keys); "
                    "tokenizer.chat_template = template; "
                    "tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, **kwargs)",
        "special_tokens_map": tok.special_tokens_map,
        "versions": package_versions(),
        "cases": len(lines),
        "error_cases": n_err,
    }
    meta_bytes = (jdump(meta, indent=2) + "\n").encode("utf-8")
    (out / "meta.json").write_bytes(meta_bytes)

    for path, data in ((out / "cases.jsonl", cases_bytes), (out / "meta.json", meta_bytes)):
        print(f"wrote {path} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    print(f"template {template_path} sha256 {template_sha}")
    print(f"{len(lines)} cases, {n_err} raise:")
    for name, etype, msg in errors:
        print(f"  {name}: {etype}: {msg}")


if __name__ == "__main__":
    main()
