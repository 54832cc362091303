"""The chat template the smoke trains SmolLM2-135M with: the embedded model's, changed in three places.

The embedded template (gymkit.rollouts.embedded) is ChatML with Hermes-style calls
(``<tool_call>`` JSON, results in ``<tool_response>``), which TRL's Qwen3-style response
parser reads back. The smoke changes it where TRL and a model without llama.cpp's help
need something else:

- each tool is shown as an example call: a 135M model copies JSON schemas back instead of
  calling the tool;
- every assistant turn is closed: TRL needs a rendering whose earlier turns do not change
  when a turn is appended;
- the first assistant turn after the user's message is opened up to the first argument's
  value: ``gymkit rollouts`` gets the same first call from the embedded model through
  llama.cpp's constrained decoding, which transformers' generate has no match for.

The value, the rest of the call and every turn after a tool result are the model's.
Generation stops at :data:`TOOL_CALL_END` (see gymkit.train.trainer): this model does not
end its turn after a call, and a turn that runs on to the token limit leaves no room for
the tool's result, which TRL then drops, leaving a call without output for /verify.
"""

from __future__ import annotations

from functools import cache

from gymkit.errors import GymkitError

__all__ = ["TOOL_CALL_END", "smoke_chat_template", "use_smoke_template"]

TOOL_CALL_END = "</tool_call>"

_EXAMPLE_CALLS = """\
To call a tool, reply with one JSON object within <tool_call></tool_call> tags and nothing else.
{% for tool in tools %}{% set f = tool.function or tool %}
{{ f.name }}: {{ f.description }} Call it like this:
<tool_call>
{"name": "{{ f.name }}", "arguments": {{ '{' }}{% for p in f.parameters.properties %}"{{ p }}": "..."\
{% if not loop.last %}, {% endif %}{% endfor %}{{ '}' }}}
</tool_call>{% endfor %}"""

_OPEN_FIRST_CALL = """\
{%- if add_generation_prompt %}<|im_start|>assistant
{% if tools and messages[-1].role == 'user' %}{% set f = tools[0].function or tools[0] %}\
{% set first = (f.parameters.required or [none])[0] %}<tool_call>
{"name": "{{ f.name }}", "arguments": {% if tools | length == 1 and first and \
f.parameters.properties[first].type == 'string' %}{"{{ first }}": "{% endif %}{% endif %}{% endif %}"""


# Printed, not literal: the next tag's "{%-" would strip a literal newline.
_CLOSE_TURN = "<|im_end|>{{ '\\n' }}"


def _once(text: str, part: str) -> str:
    """``part``, which the embedded template must hold exactly once for the smoke's change to apply."""
    if text.count(part) != 1:
        raise GymkitError(
            f"gymkit.rollouts.embedded.CHAT_TEMPLATE no longer holds {part[:40]!r} once: "
            "update gymkit/train/templates.py to the new template"
        )
    return part


@cache
def smoke_chat_template() -> str:
    """The embedded model's chat template with the smoke's three changes (each checked to apply)."""
    from gymkit.rollouts.embedded import CHAT_TEMPLATE as embedded

    after_system = _once(embedded, "{{ messages[0].content }}\n\n{% endif %}")
    instructions = _once(embedded, embedded.partition(after_system)[2].partition("<|im_end|>")[0])
    open_last_turn = _once(embedded, "{%- if not loop.last %}<|im_end|>\n{% endif %}")
    generation_prompt = _once(embedded, "{%- if add_generation_prompt %}")
    return (
        embedded.partition(generation_prompt)[0]
        .replace(instructions, _EXAMPLE_CALLS)
        .replace(open_last_turn, _CLOSE_TURN)
        + _OPEN_FIRST_CALL
    )


def use_smoke_template(tokenizer: object) -> None:
    """Give ``tokenizer`` the smoke template and the parser TRL reads its tool calls with."""
    from trl.chat_template_utils import qwen3_template

    tokenizer.chat_template = smoke_chat_template()  # type: ignore[attr-defined]
    tokenizer.response_template = qwen3_template  # type: ignore[attr-defined]
