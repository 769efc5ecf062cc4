"""The one inventory of a model's weights: `tensors(spec)` walks the architecture once and lists
every tensor with its shape, role, layer and flags.  The parameter counts and breakdown
(`counts`), the neuron count, the forward FLOPs (`flops`) and the quantised sizes
(`planner.estimate.quant`) are all sums over this list, so they cannot disagree.

Shapes are in PyTorch order - (out, in) for a matrix, (experts, out, in) for stacked experts,
(n,) for a vector - so ``shape[-1]`` is GGUF's row length ``ne0``.  Names and roles are
llama.cpp's GGUF names (``blk.3.attn_q.weight``, role ``attn_q``), which the GGUF quantisation
recipes key on.  Which tensors exist, and their shapes, follow the transformers modeling code
of each architecture (``src/transformers/models/<type>/modeling_<type>.py``):

* attention: q, k, v (K/V heads: n_kv_heads; V width: v_head_dim), o, their biases; Qwen3 /
  Gemma 3 q_norm, k_norm over head_dim and OLMo 2's over all heads; gpt-oss `sinks` (one logit
  per head); Transformer-XL's per-layer W_{k,R} (Dai et al. 2019 sec. 3.3);
* multi-head latent attention (DeepSeek-V2 sec. 2.1, HF DeepseekV3Attention): q_a_proj d ->
  q_lora_rank, q_a_layernorm, q_b_proj -> heads x (nope + rope) (or one q_proj without a
  q rank); kv_a_proj_with_mqa d -> kv_lora_rank + rope, kv_a_layernorm, kv_b_proj -> heads x
  (nope + v); o_proj heads x v -> d;
* MLP: up/down, plus gate for GLU variants (Shazeer 2020); MoE: a router d -> n_experts (with
  DeepSeek-V3's e_score_correction_bias or gpt-oss's bias), n_experts stacked experts, the
  shared experts as one MLP of n_shared x width (HF DeepseekV3MoE), Qwen2-MoE's
  shared_expert_gate d -> 1;
* DeepSeek-V3's multi-token-prediction module (sec. 2.2; its README_WEIGHTS.md): enorm, hnorm,
  eh_proj 2d -> d, one full decoder block, shared_head.norm, and stored copies of the embedding
  and output head - flagged ``mtp``, not part of the model's count;
* a vision tower (SigLIP ViT: patch embedding, positions, blocks, post-norm; Zhai et al. 2023)
  and its projector - flagged ``vision``, counted apart.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from planner.model.spec import ModelSpec

# Components of the breakdown for the model itself, and for the parts reported apart.
MAIN = ("embedding", "positions", "attention", "mlp", "norms", "lm_head")
APART = ("vision_tower", "projector", "mtp", "mtp_copies")


@dataclass(frozen=True, slots=True)
class Tensor:
    """One weight tensor.

    name       GGUF-style name (``blk.3.ffn_down_exps.weight``)
    shape      PyTorch order: (out, in), (experts, out, in) or (n,)
    role       llama.cpp role (token_embd, attn_q, ffn_down, ffn_gate_inp, bias, attn_norm, ...)
    component  breakdown key: embedding, positions, attention, mlp, norms, lm_head, or one of
               the parts reported apart (vision_tower, projector, mtp, mtp_copies)
    part       finer label for the derivation (``latent projections``, ``sinks``, ...)
    layer      block index, -1 outside the blocks
    stack      decoder, encoder, mtp, vision, or "" outside the blocks
    flags      routed_expert, shared_expert, router, embedding, norm, bias, linear (a
               projection inside a block: what GPTQ/AWQ quantise), latent, sink, vision, mtp"""

    name: str
    shape: tuple[int, ...]
    role: str
    component: str
    part: str
    layer: int = -1
    stack: str = ""
    flags: frozenset = frozenset()

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def d_in(self) -> int:
        """Row length (GGUF ne0): the input dimension of a matrix, the length of a vector."""
        return self.shape[-1]

    @property
    def d_out(self) -> int:
        return self.shape[-2] if len(self.shape) >= 2 else 1

    @property
    def count(self) -> int:
        """Stacked copies (routed experts), 1 otherwise."""
        return math.prod(self.shape[:-2]) if len(self.shape) > 2 else 1

    @property
    def is_matrix(self) -> bool:
        """A 2-D weight as GGUF sees it (trailing dimensions of 1 dropped, so a d -> 1 gate is
        a vector to llama.cpp)."""
        return len(self.shape) >= 2 and self.d_out > 1

    @property
    def apart(self) -> bool:
        """Reported apart from the model (vision tower, projector, MTP module)."""
        return self.component in APART

    def has(self, flag: str) -> bool:
        return flag in self.flags


def _f(*names: str) -> frozenset:
    return frozenset(names)


class _Walk:
    """Builds the tensor list of one spec; one method per kind of sub-module."""

    def __init__(self, spec: "ModelSpec") -> None:
        self.s = spec
        self.out: list[Tensor] = []

    # -- primitives -----------------------------------------------------------------------
    def add(self, name: str, shape: tuple[int, ...], role: str, component: str, part: str,
            layer: int = -1, stack: str = "", flags: frozenset = frozenset()) -> None:
        self.out.append(Tensor(name, tuple(int(x) for x in shape), role, component, part,
                               layer, stack, flags))

    def norm(self, name: str, role: str, width: int, layer: int = -1, stack: str = "",
             part: str = "norms", bias: bool | None = None, extra: frozenset = frozenset(),
             component: str = "norms") -> None:
        """A LayerNorm (weight + bias) or RMSNorm (weight) over `width`."""
        has_bias = self.s.norm_has_bias if bias is None else bias
        self.add(f"{name}.weight", (width,), role, component, part, layer, stack,
                 _f("norm") | extra)
        if has_bias:
            self.add(f"{name}.bias", (width,), "bias", component, part, layer, stack,
                     _f("norm", "bias") | extra)

    def linear(self, name: str, d_out: int, d_in: int, role: str, component: str, part: str,
               layer: int, stack: str, bias: bool, flags: frozenset = frozenset(),
               experts: int = 0) -> None:
        lead = (experts,) if experts else ()
        self.add(f"{name}.weight", lead + (d_out, d_in), role, component, part, layer, stack,
                 _f("linear") | flags)
        if bias:
            self.add(f"{name}.bias", lead + (d_out,), "bias", component, part + " biases",
                     layer, stack, _f("bias") | flags)

    # -- attention ------------------------------------------------------------------------
    def attention(self, p: str, layer: int, stack: str, cross: bool = False,
                  extra: frozenset = frozenset()) -> None:
        s = self.s
        if s.mla:
            return self.latent_attention(p, layer, stack, extra)
        d, tag = s.d_model, ("cross_" if cross else "")
        part = "cross-attention" if cross else "q/k/v/o"
        for role, d_out in (("attn_q", s.q_dim), ("attn_k", s.kv_dim), ("attn_v", s.v_dim)):
            self.linear(f"{p}.{tag}{role}", d_out, d, role, "attention", part, layer, stack,
                        s.qkv_bias, extra)
        self.linear(f"{p}.{tag}attn_output", d, s.n_heads * s.d_head_v, "attn_output",
                    "attention", part, layer, stack, s.attn_out_bias, extra)
        if s.positions == "xl-relative":
            # Transformer-XL W_{k,R}: projects the sinusoidal relative encodings (Dai et al.
            # 2019 sec. 3.3); Gopher and Chinchilla use it (Rae et al. 2021 sec. 3).
            self.add(f"{p}.{tag}attn_rel_k.weight", (s.q_dim, d), "attn_rel_k", "attention",
                     "relative positions (W_R)", layer, stack, _f("linear") | extra)
        self.qk_norms(p, tag, layer, stack, extra)
        if s.attention_sinks and not cross:
            # gpt-oss: one learned sink logit per head added to the softmax denominator
            # (OpenAI 2025, gpt-oss model card sec. 2.2; Xiao et al. 2023).
            self.add(f"{p}.attn_sinks.weight", (s.n_heads,), "attn_sinks", "attention",
                     "sinks", layer, stack, _f("sink") | extra)

    def qk_norms(self, p: str, tag: str, layer: int, stack: str, extra: frozenset) -> None:
        s = self.s
        if not s.qk_norm:
            return
        q_w, k_w = (s.d_head, s.d_head) if s.qk_norm == "head" else (s.q_dim, s.kv_dim)
        self.norm(f"{p}.{tag}attn_q_norm", "attn_q_norm", q_w, layer, stack, "q/k norms",
                  extra=extra)
        self.norm(f"{p}.{tag}attn_k_norm", "attn_k_norm", k_w, layer, stack, "q/k norms",
                  extra=extra)

    def latent_attention(self, p: str, layer: int, stack: str, extra: frozenset) -> None:
        """DeepSeek-V2/V3 multi-head latent attention (HF DeepseekV3Attention; biases on
        q_a, kv_a and o only when attention_bias)."""
        s = self.s
        d, h, bias = s.d_model, s.n_heads, s.qkv_bias
        nope = s.d_head - s.rope_head_dim
        lat = _f("latent") | extra
        part = "latent projections (MLA)"
        if s.q_lora_rank:
            self.linear(f"{p}.attn_q_a", s.q_lora_rank, d, "attn_q_a", "attention", part,
                        layer, stack, bias, lat)
            self.norm(f"{p}.attn_q_a_norm", "attn_q_a_norm", s.q_lora_rank, layer, stack,
                      "latent norms (MLA)", extra=lat)
            self.linear(f"{p}.attn_q_b", h * s.d_head, s.q_lora_rank, "attn_q_b", "attention",
                        part, layer, stack, False, lat)
        else:
            self.linear(f"{p}.attn_q", h * s.d_head, d, "attn_q", "attention", "q/o", layer,
                        stack, False, extra)
        self.linear(f"{p}.attn_kv_a_mqa", s.kv_lora_rank + s.rope_head_dim, d, "attn_kv_a_mqa",
                    "attention", part, layer, stack, bias, lat)
        self.norm(f"{p}.attn_kv_a_norm", "attn_kv_a_norm", s.kv_lora_rank, layer, stack,
                  "latent norms (MLA)", extra=lat)
        self.linear(f"{p}.attn_kv_b", h * (nope + s.d_head_v), s.kv_lora_rank, "attn_kv_b",
                    "attention", part, layer, stack, False, lat)
        self.linear(f"{p}.attn_output", d, h * s.d_head_v, "attn_output", "attention", "q/o",
                    layer, stack, s.attn_out_bias, extra)

    # -- MLP ------------------------------------------------------------------------------
    def mlp(self, p: str, layer: int, stack: str, width: int, suffix: str = "",
            experts: int = 0, part: str = "mlp", flags: frozenset = frozenset()) -> None:
        """up/down (plus gate for GLUs) of `width`; `experts` > 0 stacks that many copies."""
        s = self.s
        ins = ("ffn_gate", "ffn_up") if s.gated else ("ffn_up",)
        for role in ins:
            self.linear(f"{p}.{role}{suffix}", width, s.d_model, role, "mlp", part, layer,
                        stack, s.mlp_bias, flags, experts)
        self.linear(f"{p}.ffn_down{suffix}", s.d_model, width, "ffn_down", "mlp", part, layer,
                    stack, s.mlp_bias, flags, experts)

    def moe(self, p: str, layer: int, stack: str, extra: frozenset = frozenset()) -> None:
        s = self.s
        self.linear(f"{p}.ffn_gate_inp", s.n_experts, s.d_model, "ffn_gate_inp", "mlp",
                    "router", layer, stack, False, _f("router") | extra)
        if s.router_bias:
            # gpt-oss router bias; DeepSeek-V3 e_score_correction_bias (aux-loss-free
            # balancing, DeepSeek-V3 sec. 2.1.2)
            self.add(f"{p}.ffn_gate_inp.bias", (s.n_experts,), "bias", "mlp", "router", layer,
                     stack, _f("bias", "router") | extra)
        self.mlp(p, layer, stack, s.expert_width, "_exps", s.n_experts, "routed experts",
                 _f("routed_expert") | extra)
        if s.n_shared_experts:
            self.mlp(p, layer, stack, s.n_shared_experts * s.shared_width, "_shexp", 0,
                     "shared experts", _f("shared_expert") | extra)
            if s.shared_expert_gate:  # Qwen2-MoE: sigmoid(Linear(d, 1)) scales the shared one
                self.add(f"{p}.ffn_gate_inp_shexp.weight", (1, s.d_model), "ffn_gate_inp_shexp",
                         "mlp", "shared experts", layer, stack,
                         _f("linear", "router", "shared_expert") | extra)

    # -- blocks ---------------------------------------------------------------------------
    def block(self, p: str, layer: int, stack: str, cross: bool = False, moe: bool = False,
              extra: frozenset = frozenset()) -> None:
        s = self.s
        self.norm(f"{p}.attn_norm", "attn_norm", s.d_model, layer, stack, extra=extra)
        self.attention(p, layer, stack, extra=extra)
        if cross:
            self.norm(f"{p}.cross_attn_norm", "attn_norm", s.d_model, layer, stack, extra=extra)
            self.attention(p, layer, stack, cross=True, extra=extra)
        if s.block_norms > 1:
            self.norm(f"{p}.ffn_norm", "ffn_norm", s.d_model, layer, stack, extra=extra)
            # Gemma 2/3: post-attention and post-feedforward norms (4 per layer).
            for k, role in zip(range(s.block_norms - 2), ("attn_post_norm", "ffn_post_norm")):
                self.norm(f"{p}.{role}", role, s.d_model, layer, stack, extra=extra)
            for k in range(2, s.block_norms - 2):
                self.norm(f"{p}.post_norm_{k}", "attn_post_norm", s.d_model, layer, stack,
                          extra=extra)
        if moe:
            self.moe(p, layer, stack, extra)
        else:
            self.mlp(p, layer, stack, s.d_ff, flags=extra)

    # -- the whole model ------------------------------------------------------------------
    def model(self) -> list[Tensor]:
        s = self.s
        d, e, v = s.d_model, s.embedding_width, s.vocab_size
        self.add("token_embd.weight", (v, e), "token_embd", "embedding", "token embedding",
                 flags=_f("embedding"))
        if e != d:  # OPT-350m project_in / project_out, bias-free
            self.add("project_in.weight", (d, e), "other", "embedding", "project_in")
            self.add("project_out.weight", (e, d), "other", "lm_head", "project_out")
        if s.positions == "learned":
            self.add("position_embd.weight", (s.positions_rows, d), "position_embd",
                     "positions", "learned positions", flags=_f("embedding"))
        if s.embedding_norm:
            self.norm("token_embd_norm", "output_norm", d)
        if s.arch == "encoder-decoder":
            if not s.shared_encoder_decoder_embeddings:
                self.add("dec.token_embd.weight", (v, e), "token_embd", "embedding",
                         "token embedding", flags=_f("embedding"))
            if s.positions == "learned":
                self.add("dec.position_embd.weight", (s.positions_rows, d), "position_embd",
                         "positions", "learned positions", flags=_f("embedding"))
            for i in range(s.n_encoder_layers):
                self.block(f"enc.blk.{i}", i, "encoder")
            for i in range(s.n_layers):
                self.block(f"dec.blk.{i}", i, "decoder", cross=True)
            stacks = ("enc.", "dec.")
        else:
            for i in range(s.n_layers):
                self.block(f"blk.{i}", i, "decoder", moe=s.is_moe_layer(i))
            stacks = ("",)
        for prefix in stacks:
            if s.positions == "relative":
                # T5 relative position bias, buckets x heads, first layer of each stack
                # (Raffel et al. 2020 sec. 2.1)
                self.add(f"{prefix}attn_rel_b.weight", (s.n_heads, s.relative_attention_buckets),
                         "attn_rel_b", "attention", "relative position bias")
            if s.final_norm:
                self.norm(f"{prefix}output_norm", "output_norm", d)
        if not s.tie_embeddings:
            self.add("output.weight", (v, e), "output", "lm_head", "output head",
                     flags=_f("embedding"))
        if s.lm_head_bias:
            self.add("output.bias", (v,), "bias", "lm_head", "output head bias", flags=_f("bias"))
        for k in range(s.mtp_layers):
            self.mtp(k)
        if s.vision is not None:
            self.vision()
        return self.out

    def mtp(self, k: int) -> None:
        """One DeepSeek-V3 multi-token-prediction module (sec. 2.2, Figure 3); stored as
        layer n_layers + k of the checkpoint, not built by transformers."""
        s = self.s
        i = s.n_layers + k
        p, flag = f"mtp.{k}", _f("mtp")

        def apart(name: str, shape: tuple[int, ...], role: str, part: str) -> None:
            self.add(f"{p}.{name}", shape, role, "mtp", part, i, "mtp", flag)

        for name in ("enorm", "hnorm"):
            self.norm(f"{p}.{name}", "attn_norm", s.d_model, i, "mtp", "MTP norms", extra=flag,
                      component="mtp")
        apart("eh_proj.weight", (s.d_model, 2 * s.d_model), "other", "MTP projection")
        start = len(self.out)
        self.block(f"{p}.blk", i, "mtp", moe=s.is_moe, extra=flag)
        for j in range(start, len(self.out)):  # the block's tensors count toward "mtp"
            t = self.out[j]
            self.out[j] = Tensor(t.name, t.shape, t.role, "mtp", "MTP block " + t.part, t.layer,
                                 t.stack, t.flags)
        self.norm(f"{p}.shared_head_norm", "output_norm", s.d_model, i, "mtp", "MTP norms",
                  extra=flag, component="mtp")
        # The checkpoint stores the embedding and output head again; the module shares them
        # with the model (README_WEIGHTS.md), so they are copies, not parameters of their own.
        for name, role in (("token_embd", "token_embd"), ("output", "output")):
            self.add(f"{p}.{name}.weight", (s.vocab_size, s.embedding_width), role,
                     "mtp_copies", "embedding and head stored again", i, "mtp",
                     flag | _f("embedding"))

    def vision(self) -> None:
        """SigLIP vision tower (HF SiglipVisionTransformer, no pooling head) and the Gemma 3
        projector (mm_input_projection_weight vision_d x text_d, mm_soft_emb_norm RMS)."""
        vs, d_text = self.s.vision, self.s.d_model
        dv, flag = vs.d_model, _f("vision")

        def add(name: str, shape: tuple[int, ...], role: str, part: str, layer: int = -1,
                extra: frozenset = frozenset(), component: str = "vision_tower") -> None:
            self.add(f"v.{name}", shape, role, component, part, layer, "vision", flag | extra)

        def ln(name: str, layer: int = -1) -> None:  # SigLIP LayerNorms have weight and bias
            add(f"{name}.weight", (dv,), "attn_norm", "vision norms", layer, _f("norm"))
            add(f"{name}.bias", (dv,), "bias", "vision norms", layer, _f("norm", "bias"))

        def lin(name: str, d_out: int, d_in: int, role: str, part: str, layer: int) -> None:
            add(f"{name}.weight", (d_out, d_in), role, part, layer, _f("linear"))
            add(f"{name}.bias", (d_out,), "bias", part, layer, _f("bias"))

        add("patch_embd.weight", (dv, vs.channels, vs.patch_size, vs.patch_size), "other",
            "patch embedding")
        add("patch_embd.bias", (dv,), "bias", "patch embedding", extra=_f("bias"))
        add("position_embd.weight", (vs.patches, dv), "position_embd", "vision positions",
            extra=_f("embedding"))
        for i in range(vs.n_layers):
            p = f"blk.{i}"
            ln(f"{p}.ln1", i)
            for role in ("attn_q", "attn_k", "attn_v", "attn_output"):
                lin(f"{p}.{role}", dv, dv, role, "vision attention", i)
            ln(f"{p}.ln2", i)
            lin(f"{p}.ffn_up", vs.d_ff, dv, "ffn_up", "vision mlp", i)
            lin(f"{p}.ffn_down", dv, vs.d_ff, "ffn_down", "vision mlp", i)
        ln("post_ln")
        if vs.projector == "gemma3":
            add("mm_input_projection.weight", (dv, d_text), "other", "projector",
                component="projector")
            add("mm_soft_emb_norm.weight", (dv,), "attn_norm", "projector", extra=_f("norm"),
                component="projector")
        else:
            add("mm_projection.weight", (d_text, dv), "other", "projector",
                component="projector")
            add("mm_projection.bias", (d_text,), "bias", "projector", extra=_f("bias"),
                component="projector")


@functools.lru_cache(maxsize=256)
def tensors(spec: "ModelSpec") -> tuple[Tensor, ...]:
    """Every weight tensor of `spec` - the model's, then the parts reported apart (MTP
    modules, vision tower and projector; `Tensor.apart`)."""
    return tuple(_Walk(spec).model())


def main_tensors(spec: "ModelSpec") -> Iterator[Tensor]:
    """The model's own tensors (what `total_params` counts)."""
    return (t for t in tensors(spec) if not t.apart)


def active_elements(spec: "ModelSpec", t: Tensor) -> int:
    """Elements of `t` a token passes through: k of the n_experts stacked routed experts."""
    if t.has("routed_expert") and spec.n_experts:
        return t.n_elements // spec.n_experts * spec.experts_per_token
    return t.n_elements


def block_tensors(spec: "ModelSpec", stack: str = "decoder", layer: int | None = None
                  ) -> list[Tensor]:
    """The tensors of one block (the first of `stack`, or `layer`)."""
    ts = [t for t in tensors(spec) if t.stack == stack]
    if not ts:
        return []
    i = ts[0].layer if layer is None else layer
    return [t for t in ts if t.layer == i]
