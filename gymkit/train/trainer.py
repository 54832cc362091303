"""TRL's GRPOTrainer with the server's counters and the group/advantage diagnostics in its log.

Nothing here changes how TRL trains. After each generation batch the trainer's own
``_metrics`` (which TRL averages into every logged step) also receive: what the server
was asked (seed_session, tool calls, verify), the share of groups whose rewards differ
(only those carry a GRPO signal), and whether advantages are non-zero exactly there.
A callback appends every logged step to a JSONL file as it happens, so a run that dies
still leaves the steps it finished for ``gymkit training-report``.

One addition to generation: ``stop_strings`` in the config's ``generation_kwargs`` work
with transformers' generate (TRL builds the GenerationConfig but does not hand generate the
tokenizer stop strings need), and a turn that stopped at one is closed with the end-of-turn
token, as if the model had ended it there.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["MetricsFile", "ParameterProbe", "close_stopped_turn", "group_signal", "trainer_class"]


def close_stopped_turn(ids: list[int], stops: list[str], decode: Any, eos: int, pad: int | None) -> list[int]:
    """``ids`` ended by ``eos`` when generation stopped at one of ``stops`` (the padding after it dropped)."""
    if ids and ids[-1] == eos:
        return ids
    while ids and pad is not None and ids[-1] == pad:
        ids = ids[:-1]
    # Generation stops at the first stop string, so one in the last few tokens is where it stopped
    # (it may end inside the last token); eight tokens hold any stop string used here.
    tail = decode(ids[-8:])
    return [*ids, eos] if any(stop in tail for stop in stops) else ids


def group_signal(rewards: list[float], advantages: list[float], group: int) -> dict[str, float]:
    """Per batch: groups with and without reward spread, and the advantages each kind got."""
    if not rewards or len(rewards) != len(advantages) or len(rewards) % group:
        return {}
    mixed = uniform = mixed_with_signal = 0
    uniform_max = 0.0
    for start in range(0, len(rewards), group):
        r = rewards[start : start + group]
        a = [abs(x) for x in advantages[start : start + group]]
        if max(r) - min(r) > 1e-9:
            mixed += 1
            mixed_with_signal += max(a) > 0
        else:
            uniform += 1
            uniform_max = max(uniform_max, max(a))
    out = {"groups/mixed_share": mixed / (mixed + uniform), "groups/uniform_advantage_abs_max": uniform_max}
    if mixed:
        out["groups/mixed_with_nonzero_advantage"] = mixed_with_signal / mixed
    return out


def trainer_class() -> type:
    from trl import GRPOTrainer

    class GymkitGRPOTrainer(GRPOTrainer):
        """GRPOTrainer whose log also holds the server's counters and the group diagnostics."""

        gymkit_stats: Any = None

        def _generate_single_turn(self, prompt_ids: Any, *args: Any, **kwargs: Any) -> Any:
            stops = None if self.use_vllm else getattr(self.generation_config, "stop_strings", None)
            if not stops or self.use_transformers_continuous_batching:
                return super()._generate_single_turn(prompt_ids, *args, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]
            stops = [stops] if isinstance(stops, str) else list(stops)
            model = self.accelerator.unwrap_model(self.model_wrapped)
            model.generate = functools.partial(type(model).generate, model, tokenizer=self._tokenizer)
            try:
                completion_ids, logprobs = super()._generate_single_turn(prompt_ids, *args, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]
            finally:
                del model.generate
            tok = self._tokenizer
            closed = [
                close_stopped_turn(ids, stops, tok.decode, tok.eos_token_id, tok.pad_token_id) for ids in completion_ids
            ]
            return closed, logprobs

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            output = super()._generate_and_score_completions(inputs)
            stats = self.gymkit_stats
            if stats is None:
                return output
            assert self.model is not None and self.num_generations is not None  # both set by GRPOTrainer.__init__
            mode = "train" if self.model.training else "eval"
            advantages = output["advantages"].detach().float().cpu().tolist()
            with stats.lock:
                rewards = list(stats.rewards[-len(advantages) :])
            for key, value in group_signal(rewards, advantages, self.num_generations).items():
                self._metrics[mode][key].append(value)
            for key, value in stats.take().items():
                self._metrics[mode][key].append(float(value))
            return output

    return GymkitGRPOTrainer


class MetricsFile:
    """Each logged step becomes one JSONL line, written by the main process only.

    Evaluation logs (``eval_*`` keys) get lines of their own with the step they ran at; the
    report reads ``eval_reward`` from them as the held-out curve beside ``reward``.
    """

    def __init__(self, path: Path, first_line: dict[str, Any] | None = None) -> None:
        self.path = path
        self.first_line = first_line  # gymkit's record of the run, ahead of the steps
        self.rows = 0

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("" if self.first_line is None else json.dumps(self.first_line) + "\n")

    def callback(self) -> Any:
        from transformers import TrainerCallback

        outer = self

        class _Writer(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
                if state.is_world_process_zero:
                    outer.start()

            def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
                if not state.is_world_process_zero or not logs:
                    return
                if "train_runtime" in logs:  # the end-of-run summary, not a step
                    return
                outer.write({"step": state.global_step, **logs})

        return _Writer()

    def write(self, row: dict[str, Any]) -> None:
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in row.items()}
        with self.path.open("a") as handle:
            handle.write(json.dumps(clean) + "\n")
        self.rows += 1


class ParameterProbe:
    """A fixed sample of every parameter tensor, to tell afterwards whether training moved the weights.

    A full copy would double the model's memory; 64 values of each tensor show any tensor
    that changed anywhere near them, and the gradient of GRPO reaches every tensor.
    """

    def __init__(self, model: Any, per_tensor: int = 64) -> None:
        import torch

        self.samples: dict[str, tuple[Any, Any]] = {}
        generator = torch.Generator().manual_seed(0)
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            flat = param.detach().reshape(-1)
            index = torch.randint(0, flat.numel(), (min(per_tensor, flat.numel()),), generator=generator)
            self.samples[name] = (index, flat[index.to(flat.device)].cpu().clone())

    def changes(self, model: Any) -> dict[str, Any]:
        changed, largest = 0, 0.0
        params = dict(model.named_parameters())
        for name, (index, before) in self.samples.items():
            flat = params[name].detach().reshape(-1)
            delta = (flat[index.to(flat.device)].cpu().float() - before.float()).abs().max().item()
            changed += delta > 0
            largest = max(largest, delta)
        return {"tensors": len(self.samples), "tensors_changed": changed, "max_abs_change": largest}
