"""Training binary and few-bit perceptrons (the binary-networks chapter), through the one training loop.

:func:`fit_binary` is BinaryConnect's and BNN's recipe as a call to
:func:`lib.workbench.train.fit`: Adam, the learning rate decaying exponentially from ``lr`` to
``lr_end``, and the latent weights clipped to :math:`[-1, 1]` after every step (the ``after_step``
hook). :func:`train_variant` trains one of the chapter's eleven variants on MNIST and keeps what
the chapter shows in the one cache.

Protocol: learning curves are measured on the validation split (5,000 of MNIST's training
images, never trained on); the test error is read once, after training. The schedule (3 epochs,
:math:`10^{-2} \\to 10^{-4}`, batch 100) is the papers' kind of schedule, fixed in advance.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lib import binary as B
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.workbench import train
from lib.workbench.data import Split, mnist

#: The chapter's variants: name -> options of :func:`lib.binary.binary_mlp`.
VARIANTS = {
    "float32": dict(weights="float", activations="relu"),
    "BinaryConnect": dict(weights="sign", activations="relu"),
    "BNN": dict(weights="sign", activations="sign"),
    "BNN, binary input": dict(weights="sign", activations="sign", binary_input=True),
    "BNN without BatchNorm": dict(weights="sign", activations="sign", batchnorm=False),
    "XNOR-Net": dict(weights="xnor", activations="xnor"),
    "DoReFa W1 A2": dict(weights="dorefa", activations="dorefa", weight_bits=1, act_bits=2),
    "DoReFa W2 A2": dict(weights="dorefa", activations="dorefa", weight_bits=2, act_bits=2),
    "DoReFa W1 A4": dict(weights="dorefa", activations="dorefa", weight_bits=1, act_bits=4),
    "DoReFa W1 A2 G4": dict(weights="dorefa", activations="dorefa", weight_bits=1, act_bits=2, grad_bits=4),
    "DoReFa W1 A2 G2": dict(weights="dorefa", activations="dorefa", weight_bits=1, act_bits=2, grad_bits=2),
}
SIZES, EPOCHS = [784, 256, 256, 10], 3
#: Histogram bins for the weights the forward pass uses, and for the latent weights (the few
#: beyond +-0.6 go to the end bins).
EDGES = np.linspace(-1.05, 1.05, 71)
LATENT_EDGES = np.linspace(-0.6, 0.6, 61)
#: Variants whose trained state is kept, to run them on bits.
KEEP = ("BNN", "BNN, binary input")


def fit_binary(net: nn.Module, data: Split, num_epochs: int = 5, lr: float = 1e-2, lr_end: float = 1e-4,
               batch_size: int = 100, seed: int = 0, eval_every: int = 0) -> list[dict]:
    r"""Train a (binary) network with Adam, clipping latent weights after every step.

    The learning rate decays exponentially from ``lr`` to ``lr_end`` over the run,
    :math:`\eta_t = \eta_0 (\eta_\text{end}/\eta_0)^{t/(T-1)}`, as BinaryConnect and BNN schedule
    it; after every Adam step the latent weights of ``"sign"``/``"xnor"`` layers are clipped to
    :math:`[-1, 1]` (:func:`lib.binary.clip_latent_weights_`). One call to
    :func:`lib.workbench.train.fit`.

    Parameters
    ----------
    net : nn.Module
        Trained in place.
    data : Split
        Trained on ``X_train``; the curve is measured on ``X_val`` (``val_error``).
    num_epochs, batch_size : int >= 1
    lr, lr_end : float
        First and last learning rate, ``0 < lr_end <= lr``.
    seed : int
        Seed of the shuffling.
    eval_every : int >= 0
        Steps between two points of the learning curve (0: at the end of every epoch).

    Returns
    -------
    list of dict
        ``epoch`` (fractional), ``step``, ``loss`` (mean training cross-entropy since the previous
        entry) and ``val_error``.

    References
    ----------
    .. [1] M. Courbariaux, Y. Bengio, J.-P. David, "BinaryConnect", NeurIPS 2015, arXiv:1511.00363.
    .. [2] I. Hubara et al., "Binarized Neural Networks", NeurIPS 2016, arXiv:1602.02830.

    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(64, 8, generator=g), torch.randint(0, 2, (64,), generator=g)
    >>> hist = fit_binary(B.binary_mlp([8, 16, 2]), Split(X, y, X, y, 2, X, y), num_epochs=2, batch_size=32)
    >>> [h["epoch"] for h in hist]
    [1.0, 2.0]
    """
    if not isinstance(data, Split):
        raise ValueError(f"data must be a lib.workbench.data.Split, got {type(data).__name__}")
    if len(data.X_train) != len(data.y_train):
        raise ValueError(f"X_train and y_train must have the same length, got {len(data.X_train)} and "
                         f"{len(data.y_train)}")
    num_epochs = check_int("num_epochs", num_epochs, 1)
    check_real("lr", lr, 0.0, 10.0, lo_open=True)
    check_real("lr_end", lr_end, 0.0, lr, lo_open=True)
    cfg = train.TrainConfig(optimizer="adam", lr=lr, lr_end=lr_end, lr_decay="exponential", weight_decay=0.0,
                            num_epochs=num_epochs, batch_size=check_int("batch_size", batch_size, 1),
                            seed=check_int("seed", seed, 0, 2**32 - 1))
    return train.fit(net, data, cfg, after_step=lambda net, step: B.clip_latent_weights_(net),
                     eval_every=check_int("eval_every", eval_every, 0))


@cache.memo(store="json")
def train_variant(name: str, epochs: int = EPOCHS, evals_per_epoch: int = 5) -> dict:
    """Train :data:`VARIANTS` ``[name]`` (a ``SIZES`` perceptron) on MNIST for ``epochs`` epochs.

    Returns
    -------
    dict
        ``history`` (:func:`fit_binary`'s validation curve), ``test_error`` (read once, at the
        end), ``storage`` (:func:`lib.binary.storage_bits`), histograms of the second layer's latent
        weights (``latent``, on ``LATENT_EDGES``) and of the weights its forward pass uses (``used``,
        on ``EDGES``), ``at_bound`` (fraction of latent weights at the clip bound :math:`\\pm1`),
        ``flipped`` (fraction whose sign changed since initialisation), and for the
        :data:`KEEP` variants ``state``: the weights' signs and BatchNorm's numbers, enough to run
        the network on bits.
    """
    options = VARIANTS[check_choice("name", name, list(VARIANTS))]
    data = mnist(flatten=True)
    net = B.binary_mlp(SIZES, seed=0, **options)
    layer = [m for m in net if isinstance(m, B.BinaryLinear)][1]  # the 256 x 256 hidden layer
    start = layer.weight.detach().clone()
    steps_per_epoch = -(-len(data.y_train) // 100)
    history = fit_binary(net, data, num_epochs=epochs, lr=1e-2, lr_end=1e-4, batch_size=100, seed=0,
                         eval_every=steps_per_epoch // check_int("evals_per_epoch", evals_per_epoch, 1))
    with torch.no_grad():
        latent, used = layer.weight.detach().flatten(), layer.quantized_weight().detach().flatten()
    out = {"history": history, "test_error": train.error_rate(net, data.X_test, data.y_test),
           "storage": B.storage_bits(net),
           "latent": np.histogram(latent.clamp(-0.6, 0.6).numpy(), LATENT_EDGES)[0],
           "used": np.histogram(used.clamp(-1.05, 1.05).numpy(), EDGES)[0],
           "at_bound": float((latent.abs() >= 1).float().mean()),
           "flipped": float(((latent >= 0) != (start.flatten() >= 0)).float().mean())}
    if name in KEEP:
        out["state"] = {k: (torch.where(v >= 0, 1, -1) if k.endswith("weight") and v.dim() == 2 else v).tolist()
                        for k, v in net.state_dict().items()}
    return out


def rebuild(name: str, state: dict) -> nn.Module:
    """The trained :data:`KEEP` variant ``name`` from its kept ``state`` (:func:`train_variant`), in eval mode."""
    net = B.binary_mlp(SIZES, **VARIANTS[check_choice("name", name, list(KEEP))])
    net.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return net.eval()
