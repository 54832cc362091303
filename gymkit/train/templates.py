"""The chat template the smoke trains SmolLM2-135M with.

SmolLM2's own template drops tools and tool calls, so TRL refuses it for tool use. This is
ChatML with Hermes-style calls (``<tool_call>`` JSON, results in ``<tool_response>``), the
format gymkit's embedded template prompts the same model with, so TRL's Qwen3-style response
parser reads the calls back. Unlike that template, every assistant turn is closed: TRL
needs a rendering whose earlier turns do not change when a turn is appended.

A 135M model copies JSON schemas back instead of calling the tool, so each tool is shown as
an example call, and the first assistant turn after the user's message is opened for it up
to the first argument's value: ``gymkit rollouts`` gets the same first call from the embedded
model through llama.cpp's constrained decoding, which transformers' generate has no match for.
The value, the rest of the call and every turn after a tool result are the model's.
"""

from __future__ import annotations

__all__ = ["SMOKE_CHAT_TEMPLATE", "use_smoke_template"]

SMOKE_CHAT_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}

{% endif %}To call a tool, reply with one JSON object within <tool_call></tool_call> tags and nothing else.
{% for tool in tools %}{% set f = tool.function or tool %}
{{ f.name }}: {{ f.description }} Call it like this:
<tool_call>
{"name": "{{ f.name }}", "arguments": {{ '{' }}{% for p in f.parameters.properties %}"{{ p }}": "..."\
{% if not loop.last %}, {% endif %}{% endfor %}{{ '}' }}}
</tool_call>{% endfor %}<|im_end|>
{% elif messages[0].role != 'system' %}<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}{% if not tools %}<|im_start|>system
{{ message.content }}<|im_end|>
{% endif %}
{%- elif message.role == 'assistant' %}<|im_start|>assistant
{% if message.content %}{{ message.content }}{% endif %}
{%- if message.tool_calls %}{% for tc in message.tool_calls %}{% set f = tc.function or tc %}<tool_call>
{"name": "{{ f.name }}", "arguments": {% if f.arguments is string %}{{ f.arguments }}\
{% else %}{{ f.arguments | tojson }}{% endif %}}
</tool_call>{% endfor %}{% endif %}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% if tools and messages[-1].role == 'user' %}{% set f = tools[0].function or tools[0] %}\
{% set first = (f.parameters.required or [none])[0] %}<tool_call>
{"name": "{{ f.name }}", "arguments": {% if tools | length == 1 and first and \
f.parameters.properties[first].type == 'string' %}{"{{ first }}": "{% endif %}{% endif %}{% endif %}"""


def use_smoke_template(tokenizer: object) -> None:
    """Give ``tokenizer`` the smoke template and the parser TRL reads its tool calls with."""
    from trl.chat_template_utils import qwen3_template

    tokenizer.chat_template = SMOKE_CHAT_TEMPLATE  # type: ignore[attr-defined]
    tokenizer.response_template = qwen3_template  # type: ignore[attr-defined]
