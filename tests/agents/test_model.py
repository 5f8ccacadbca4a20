"""agents.model, top-down: the MCSD mixer's three forms agree (from zero and non-zero states,
across chunk edges); the selective GeGLU routes top-k with gather == dense and gradient only where
groups fired; the fast decode step is the recurrent form; YanModel's forms agree (outputs, state,
gradients), step == forward, clear input errors."""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from agents import model as model_mod
from agents.config import YanConfig
from agents.model import (
    NEXT_HEAD,
    FFNWeights,
    MCSDMixer,
    MixerWeights,
    SelectiveGeGLU,
    YanModel,
    YanWeights,
    balance_step,
    init_state,
    log_rates,
    mcsd_apply,
    selective_apply,
    skip_selection_noise,
    state_width,
    yan_apply,
    yan_step,
)

torch.set_num_threads(1)
D, C = 16, 4  # mixer tests
H, G, K = 32, 8, 2  # selective FFN tests (width D)
CFG = YanConfig(chunk_size=8)  # model tests


# -- MCSD mixer ------------------------------------------------------------------------------
def _mixer_setup(t: int, b: int = 2, seed: int = 0, nonzero: bool = False):
    torch.manual_seed(seed)
    p = MixerWeights(**{n: w.unsqueeze(0) for n, w in MCSDMixer(D, C).named_parameters()})
    x = torch.randn(1, b, t, D)
    s = torch.zeros(1, b, state_width(D, C))
    if nonzero:  # a plausible state: sums and a positive count
        s = torch.randn(1, b, state_width(D, C))
        s[..., 2 * D :] = torch.rand(1, b, C) * 5 + 1
    return p, x, s


def test_rates_match_design() -> None:
    lg, la = log_rates(4)
    assert torch.allclose(lg, -torch.tensor([2**-2, 2**-4, 2**-6, 2**-8], dtype=torch.float64))
    assert torch.allclose(la.exp(), 1 - torch.tensor([2**-5, 2**-6, 2**-7, 2**-8]).double())


@pytest.mark.parametrize("t", [1, 7, 8, 9, 33, 100])
@pytest.mark.parametrize("nonzero", [False, True])
def test_forms_agree(t: int, nonzero: bool) -> None:
    p, x, s = _mixer_setup(t, nonzero=nonzero)
    y_r, s_r = mcsd_apply(p, x, s, "recurrent", C, 8)
    for mode in ("chunked", "parallel"):
        y, s_new = mcsd_apply(p, x, s, mode, C, 8)
        assert (y - y_r).abs().max() <= 1e-5
        assert ((s_new - s_r).abs() / (s_r.abs() + 1)).max() <= 1e-5


def test_forms_agree_at_4096() -> None:
    p, x, s = _mixer_setup(4096, b=1, nonzero=True)
    with torch.no_grad():
        y_r, s_r = mcsd_apply(p, x, s, "recurrent", C, 32)
        y_c, s_c = mcsd_apply(p, x, s, "chunked", C, 32)
        y_p, _ = mcsd_apply(p, x, s, "parallel", C, 32)
    assert (y_c - y_r).abs().max() <= 1e-5
    assert (y_p - y_r).abs().max() <= 1e-5
    assert ((s_c - s_r).abs() / (s_r.abs() + 1)).max() <= 1e-4


def test_first_token_sees_nothing() -> None:
    """Strictly past: with a zero state the first output ignores the first token's v and e."""
    p, x, s = _mixer_setup(3)
    y1, _ = mcsd_apply(p, x, s, "chunked", C, 8)
    x2 = x.clone()
    x2[:, :, 0] += 1.0
    y2, _ = mcsd_apply(p, x2, s, "chunked", C, 8)
    # u changes with the token itself but V' = E' = 0, so theta = 0 at t = 0 either way
    assert torch.equal(y1[:, :, 0], torch.zeros_like(y1[:, :, 0]))
    assert torch.equal(y2[:, :, 0], torch.zeros_like(y2[:, :, 0]))
    assert not torch.allclose(y1[:, :, 1], y2[:, :, 1])


def test_chunked_continues_from_state() -> None:
    """Two chunked calls chained through the state equal one call over the whole sequence."""
    p, x, s = _mixer_setup(50, nonzero=True)
    y, s_end = mcsd_apply(p, x, s, "chunked", C, 8)
    y_a, s_mid = mcsd_apply(p, x[:, :, :21], s, "chunked", C, 8)
    y_b, s_end2 = mcsd_apply(p, x[:, :, 21:], s_mid, "chunked", C, 8)
    assert (torch.cat([y_a, y_b], 2) - y).abs().max() <= 1e-5
    assert ((s_end2 - s_end).abs() / (s_end.abs() + 1)).max() <= 1e-5


def test_gradients_agree() -> None:
    p, x, s = _mixer_setup(40, nonzero=True)
    grads = {}
    for mode in ("chunked", "parallel"):
        leaves = {f.name: getattr(p, f.name).detach().requires_grad_(True) for f in fields(p)}
        xx = x.clone().requires_grad_(True)
        y, _ = mcsd_apply(MixerWeights(**leaves), xx, s, mode, C, 8)
        (y * torch.linspace(-1, 1, D)).sum().backward()
        grads[mode] = [xx.grad] + [leaves[n].grad for n in sorted(leaves)]
    for a, b in zip(grads["chunked"], grads["parallel"], strict=True):
        assert (a - b).abs().max() <= 1e-4 * (1 + b.abs().max())


def test_bad_mode() -> None:
    p, x, s = _mixer_setup(3)
    with pytest.raises(ValueError, match="mode must be"):
        mcsd_apply(p, x, s, "fast", C, 8)


# -- selective GeGLU -------------------------------------------------------------------------


def _ffn_params(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    m = SelectiveGeGLU(D, H, G)
    return {n: w.detach().unsqueeze(0) for n, w in m.state_dict().items()}


def test_gather_equals_dense() -> None:
    p = _ffn_params()
    x = torch.randn(1, 3, 5, D)
    y_g, load_g = selective_apply(FFNWeights(**p), x, K, path="gather")
    y_d, load_d = selective_apply(FFNWeights(**p), x, K, path="dense")
    assert (y_g - y_d).abs().max() <= 1e-5
    assert torch.equal(load_g, load_d)
    assert load_g.sum().item() == pytest.approx(1.0)


def test_only_selected_groups_and_selector_get_gradient() -> None:
    p = _ffn_params()
    leaves = {n: w.requires_grad_(n != "usage_bias") for n, w in p.items()}
    x = torch.randn(1, 1, 1, D)  # one token: exactly K groups fire
    logits = torch.einsum("pbtd,pdg->pbtg", x, leaves["w_sel"])
    chosen = set(torch.topk(logits[0, 0, 0], K).indices.tolist())
    y, _ = selective_apply(FFNWeights(**leaves), x, K, path="dense")
    y.pow(2).sum().backward()
    for name, axis in (("w_in", 1), ("w_out", 1), ("w_sel", 2)):
        g = leaves[name].grad
        fired = {i for i in range(G) if g.select(axis, i).abs().sum() > 0}
        assert fired == chosen, name


def test_dense_gradient_is_gathers_bit_for_bit(monkeypatch) -> None:
    """The dense path's group pick (`_PickGroups`, backward by index_add_) gives the same
    gradients, bit for bit, as torch.gather's own backward."""
    sets = [_ffn_params(seed) for seed in (0, 1)]
    p = {n: torch.cat([s[n] for s in sets]) for n in sets[0]}  # two weight sets
    x = torch.randn(2, 3, 4, D)
    grads = []
    for pick in ("custom", "gather"):
        if pick == "gather":
            gather = staticmethod(lambda h, index: torch.gather(h, 2, index))
            monkeypatch.setattr(model_mod._PickGroups, "apply", gather)
        leaves = {n: w.clone().requires_grad_(n != "usage_bias") for n, w in p.items()}
        xs = x.clone().requires_grad_(True)
        y, _ = selective_apply(FFNWeights(**leaves), xs, K, path="dense")
        y.pow(2).sum().backward()
        grads.append([xs.grad] + [leaves[n].grad for n in ("w_sel", "w_in", "w_out")])
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)
    assert grads[0][2].abs().sum() > 0


def test_training_pass_may_skip_the_next_token_head() -> None:
    w = _model().weights()
    x = torch.randn(1, 2, 3, CFG.input_dim)
    full, s_full, _ = yan_apply(w, CFG, x, init_state(CFG, 2, 1))
    part, s_part, _ = yan_apply(w, CFG, x, init_state(CFG, 2, 1), next_head=False)
    assert NEXT_HEAD in full and NEXT_HEAD not in part
    assert torch.equal(full["detect"], part["detect"]) and torch.equal(s_full, s_part)


def test_noise_explores_and_bias_balances() -> None:
    p = _ffn_params()
    x = torch.randn(1, 64, 1, D)
    _, load_quiet = selective_apply(FFNWeights(**p), x, K)
    _, load_noisy = selective_apply(FFNWeights(**p), x, K, noise_std=torch.tensor([100.0]))
    assert (load_noisy > 0).all()  # 128 noisy picks reach every one of the 8 groups
    bias = p["usage_bias"].clone()
    balance_step(bias, load_quiet, 0.1)
    over, under = load_quiet[0] > 1 / G, load_quiet[0] < 1 / G
    assert (bias[0][over] < 0).all() and (bias[0][under] > 0).all()


@pytest.mark.parametrize(("t", "mode"), [(1, "recurrent"), (5, "chunked")])
def test_skipping_a_pass_draws_what_the_pass_would(t: int, mode: str) -> None:
    """A learning pass skipped as useless advances each brain's stream exactly as running
    it would: the draws after it are the same."""
    from agents.rng import BrainGenerators, normal

    m = YanModel(CFG)
    stacked = {n: v.unsqueeze(0).repeat(3, *[1] * v.dim()) for n, v in m.state_dict().items()}
    w = YanWeights.from_named(stacked, CFG)
    ran, skipped = BrainGenerators(1, [0, 4, 9]), BrainGenerators(1, [0, 4, 9])
    x = torch.randn(3, 4, t, CFG.input_dim)
    yan_apply(w, CFG, x, init_state(CFG, 4, 3), mode, torch.full((3,), 0.5), ran)
    skip_selection_noise(CFG, 3, 4, t, skipped)
    assert torch.equal(normal((3, 6), ran), normal((3, 6), skipped))
    skip_selection_noise(CFG, 3, 5, t, skipped)  # another shape draws something else
    assert not torch.equal(normal((3, 6), ran), normal((3, 6), skipped))


def test_bad_path() -> None:
    with pytest.raises(ValueError, match="path must be"):
        selective_apply(FFNWeights(**_ffn_params()), torch.randn(1, 1, 1, D), K, path="sparse")


# -- fast decode step -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "batch", "n_sets"),
    [
        (YanConfig(), 1, 3),  # gather path: 1 stream x 2 active <= 8 groups
        (YanConfig(), 5, 3),  # dense path: 5 streams x 2 active > 8 groups
        (YanConfig(d_model=64, n_layers=3, n_channels=8, ffn_groups=16, ffn_active=3), 2, 3),
        # many sets of one stream (the bank): 8-wide products take the multiply-and-sum path
        (YanConfig(), 1, 40),
        (YanConfig(d_model=64, n_channels=8, ffn_groups=16, ffn_active=1), 1, 40),
    ],
)
def test_step_equals_recurrent_form(cfg: YanConfig, batch: int, n_sets: int) -> None:
    torch.manual_seed(0)
    sets = [YanModel(cfg).state_dict() for _ in range(n_sets)]
    named = {n: torch.stack([s[n] for s in sets]) for n in sets[0]}
    for n in named:
        if n.endswith("usage_bias"):  # non-zero bias: selection must use it the same way
            named[n].normal_()
    p = YanWeights.from_named(named, cfg)
    with torch.no_grad():
        x = torch.randn(n_sets, batch, 20, cfg.input_dim)
        _, state, _ = yan_apply(p, cfg, x, init_state(cfg, batch, n_sets), "chunked")
        for _ in range(3):
            tok = torch.randn(n_sets, batch, cfg.input_dim)
            ref, ref_state, _ = yan_apply(p, cfg, tok[:, :, None], state, "recurrent")
            out, state = yan_step(p, cfg, tok, state)
            assert set(out) == set(ref)
            for name, y in out.items():
                assert torch.allclose(y, ref[name][:, :, 0], atol=1e-5), name
            assert torch.allclose(state, ref_state, atol=1e-5)


def test_step_rejects_a_sequence() -> None:
    m = YanModel(YanConfig())
    with pytest.raises(ValueError, match="one token per sequence"):
        m.step(torch.zeros(1, 4, 26), m.init_state(1))


# -- YanModel -------------------------------------------------------------------------------


def _model(seed: int = 0) -> YanModel:
    torch.manual_seed(seed)
    m = YanModel(CFG)
    with torch.no_grad():  # full-size heads so head errors are not hidden by a small init
        for p in m.parameters():
            if p.dim() == 2 and p.shape[0] == CFG.d_model:
                p.mul_(10)
    return m


def test_outputs_and_state_shapes() -> None:
    m = _model()
    y, s = m(torch.randn(3, 5, CFG.input_dim))
    assert y["detect"].shape == (3, 5, 1)
    assert y[NEXT_HEAD].shape == (3, 5, CFG.input_dim)
    assert s.shape == m.init_state(3).shape == (3, CFG.n_layers, 2 * CFG.d_model + CFG.n_channels)


@pytest.mark.parametrize("t", [5, 8, 17, 300])
def test_forms_agree_from_nonzero_state(t: int) -> None:
    m = _model()
    with torch.no_grad():
        _, s0 = m(torch.randn(2, 13, CFG.input_dim))
        x = torch.randn(2, t, CFG.input_dim)
        ref, s_ref = m(x, s0, mode="recurrent")
        for mode in ("chunked", "parallel"):
            y, s = m(x, s0, mode=mode)
            for k in ref:
                assert (y[k] - ref[k]).abs().max() <= 1e-5, (mode, k)
            assert ((s - s_ref).abs() / (s_ref.abs() + 1)).max() <= 1e-4  # sums up to ~256x


def test_step_matches_forward() -> None:
    m = _model()
    x = torch.randn(2, 20, CFG.input_dim)
    with torch.no_grad():
        ref, s_ref = m(x)
        s = m.init_state(2)
        for t in range(20):
            y, s = m.step(x[:, t], s)
            assert (y["detect"] - ref["detect"][:, t]).abs().max() <= 1e-5
    assert ((s - s_ref).abs() / (s_ref.abs() + 1)).max() <= 1e-4  # sums up to ~256x


def test_chunked_and_parallel_gradients_agree() -> None:
    grads = []
    x = torch.randn(2, 37, CFG.input_dim)
    for mode in ("chunked", "parallel"):
        m = _model()
        y, _ = m(x, mode=mode)
        (y["detect"].sum() + y[NEXT_HEAD].pow(2).mean()).backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        assert (a - b).abs().max() <= 1e-4 * (1 + b.abs().max())


def test_bad_inputs() -> None:
    m = _model()
    with pytest.raises(ValueError, match="input_dim"):
        m(torch.randn(1, 4, CFG.input_dim + 1))
    with pytest.raises(ValueError, match="T = 0"):
        m(torch.randn(1, 0, CFG.input_dim))
    with pytest.raises(ValueError, match="mode must be"):
        m(torch.randn(1, 2, CFG.input_dim), mode="fast")


def test_typed_weights_cover_the_state_dict() -> None:
    """from_named reads every tensor of YanModel's state dict, once, as a view (no copy)."""
    cfg = YanConfig(n_layers=3, heads={"detect": 1, "kind": 4})
    named = {n: t.unsqueeze(0) for n, t in YanModel(cfg).state_dict().items()}
    w = YanWeights.from_named(named, cfg)

    def leaves(node) -> list[torch.Tensor]:
        if isinstance(node, torch.Tensor):
            return [node]
        if isinstance(node, dict | tuple):
            items = node.values() if isinstance(node, dict) else node
            return [t for x in items for t in leaves(x)]
        return [t for f in fields(node) for t in leaves(getattr(node, f.name))]

    got = leaves(w)
    assert len(got) == len(named)
    assert {t.data_ptr() for t in got} == {t.data_ptr() for t in named.values()}
    assert list(w.heads) == ["detect", "kind"] and len(w.layers) == 3
    del named["layers.2.ffn.w_out"]
    with pytest.raises(ValueError, match=r"lack 'layers\.2\.ffn\.w_out'"):
        YanWeights.from_named(named, cfg)


def test_named_dict_weights_get_a_clear_error() -> None:
    named = {n: t.unsqueeze(0) for n, t in YanModel(CFG).state_dict().items()}
    x, state = torch.zeros(1, 1, CFG.input_dim), init_state(CFG, 1, 1)
    with pytest.raises(TypeError, match=r"YanWeights\.from_named"):
        yan_step(named, CFG, x, state)
    with pytest.raises(TypeError, match=r"YanWeights\.from_named"):
        yan_apply(named, CFG, x[:, :, None], state)
