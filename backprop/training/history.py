"""``History``: the per-epoch record that ``fit`` returns."""

from __future__ import annotations

from backprop.training.callbacks import Callback

__all__ = ["History"]


class History(Callback):
    """Records the epoch logs; ``fit`` returns it.

    Attributes:
        history: ``{key: [value at epoch 0, value at epoch 1, ...]}`` with the keys
            ``loss`` (the training cost: data loss + regularisation, averaged over
            the epoch's batches), each metric, and with validation data
            ``val_loss`` and ``val_<metric>``.
        epoch: The epoch numbers (from 0) recorded.
        params: The training parameters (epochs, batch_size, steps per epoch, ...).

    Example:
        >>> h = History()
        >>> h.on_epoch_end(0, {"loss": 0.5}); h.on_epoch_end(1, {"loss": 0.25})
        >>> h.history, h.epoch
        ({'loss': [0.5, 0.25]}, [0, 1])
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = {}

    def set_trainer(self, trainer) -> None:
        super().set_trainer(trainer)
        self.params = dict(getattr(trainer, "params", {}) or {})

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(int(epoch))
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def state_dict(self) -> dict:
        return {"history": {k: list(v) for k, v in self.history.items()}, "epoch": list(self.epoch)}

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"
