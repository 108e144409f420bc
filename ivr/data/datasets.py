"""Map-style datasets and the resumable sampler behind :class:`ivr.data.datamodule.IVRDataModule`.

Training item ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``: the sampler yields
``(epoch, index)`` pairs, so workers (and ranks) never need shared state and the same batch comes
out whatever ``num_workers`` is. The sampler shards a seeded per-epoch permutation over ranks
itself (use ``Trainer(use_distributed_sampler=False)``) and can start mid-epoch (resume).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ivr.data.packing import sequences
from ivr.data.tokenization import TokenCache
from ivr.protocol.conventions import ConventionError, demo_form_for
from ivr.protocol.examples import PersonTable, Recipe, eval_example, train_example
from ivr.protocol.units import assign_units

TAG_ORDER = 31


class TrainDataset(Dataset):
    """Training examples: item ``i`` = (target question, i-th chosen person of that question, their unit).

    Items are enumerated question by question, people in person-id order; each person's unit
    comes from :func:`ivr.protocol.units.assign_units` (exact shares per question, fixed over epochs).

    Args:
        table: catalog arrays; cache: token cache; recipe: sampling recipe (its ``train_units``).
        people: per question the chosen training rows (see :func:`ivr.protocol.examples.train_people`).
        seed: sampling seed; max_len: sequence budget (None = unlimited).
        option_text: after each probe one sub-branch per option with its whole answer and ``option_spans``
            (full-option log-likelihood, see :func:`ivr.data.packing.sequences`).
    """

    def __init__(
        self,
        table: PersonTable,
        cache: TokenCache,
        recipe: Recipe,
        people: list[np.ndarray],
        seed: int,
        max_len: int | None,
        option_text: bool = False,
    ) -> None:
        self.table, self.cache, self.recipe, self.seed, self.max_len = table, cache, recipe, seed, max_len
        self.option_text = option_text
        self.people = people
        self.units = recipe.train_units
        self.unit_of = assign_units(people, self.units, seed)
        self.offsets = np.concatenate([[0], np.cumsum([len(p) for p in people])]).astype(np.int64)
        self.epoch = 0

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _where(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"training item {index} out of range [0, {len(self)})")
        q = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return q, int(index - self.offsets[q])

    def locate(self, index: int) -> tuple[int, int]:
        """(question, catalog row) of item ``index``."""
        q, j = self._where(index)
        return q, int(self.people[q][j])

    def unit(self, index: int):
        """The :class:`ivr.protocol.units.Unit` of item ``index``."""
        q, j = self._where(index)
        return self.units[int(self.unit_of[q][j])]

    def unit_counts(self) -> np.ndarray:
        """int64 [Q, n_units]: examples per question and unit (the exact shares)."""
        return np.stack([np.bincount(u, minlength=len(self.units)) for u in self.unit_of]).astype(np.int64)

    def example(self, epoch: int, index: int):
        q, j = self._where(index)
        row = int(self.people[q][j])
        return train_example(self.table, self.recipe, self.seed, epoch, q, row, self.units[int(self.unit_of[q][j])])

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        ex = self.example(int(epoch), int(index))
        built = self.cache.build(ex, self.max_len, continuations=self.option_text)
        return sequences(built, ex, packed=len(ex.probe_questions) > 1, option_text=self.option_text)[0]


class EvalDataset(Dataset):
    """The fixed evaluation enumeration: (person, setup, probe form[, probe]) in that nesting order.

    Args:
        table, cache, recipe, seed, max_len: as for :class:`TrainDataset` (recipe.demo_count = eval count,
            recipe.demo_rule = the demonstration rule, the same for packed and unpacked items).
        rows: evaluation catalog rows; setups: probe question indices per setup.
        packed: all probes of (person, setup, form) in one sequence, else one probe per item.
        pack_forms: with ``packed``, both probe forms of (person, setup) in one sequence (78 probes;
            needs a single demonstration form, ``view`` polar or refined).
        option_text: after each probe one sub-branch per option with its whole answer and ``option_spans``
            (full-option log-likelihood, see :func:`ivr.data.packing.sequences`).
        view: the evaluation view (:mod:`ivr.protocol.conventions`): which demonstration form each probe
            form is shown with (``matched``, ``crossed``, ``polar``, ``refined``).

    Raises:
        ConventionError: a view that needs two demonstration forms with ``pack_forms``, or the
            per-probe rule with packed items.
    """

    def __init__(
        self,
        table: PersonTable,
        cache: TokenCache,
        recipe: Recipe,
        rows: np.ndarray,
        setups: list[np.ndarray],
        seed: int,
        max_len: int | None,
        packed: bool,
        pack_forms: bool = False,
        option_text: bool = False,
        view: str = "matched",
    ) -> None:
        self.table, self.cache, self.recipe, self.seed, self.max_len = table, cache, recipe, seed, max_len
        self.option_text, self.view = option_text, view
        self.setups, self.packed = setups, packed
        demo_form_for(view, 0)  # a known view
        if packed and pack_forms and demo_form_for(view, 0) != demo_form_for(view, 1):
            raise ConventionError(
                f"eval_pack_forms: both probe forms share one prefix, but eval_forms view {view!r} shows them with "
                "different demonstration forms; use eval_forms: polar or refined, or eval_pack_forms: false"
            )
        if packed and recipe.demo_rule == "probe":
            raise ConventionError(
                "eval_demo_rule='probe' leaves out only the probed question, so probes cannot share one prefix: "
                "set eval_packed: false, or use eval_demo_rule: setup"
            )
        self.items: list[tuple[int, int, int, int]] = []
        for row in np.asarray(rows).tolist():
            for s, probes in enumerate(setups):
                for form in (-1,) if packed and pack_forms else (0, 1):
                    if packed:
                        self.items.append((row, s, form, -1))
                    else:
                        self.items.extend((row, s, form, int(q)) for q in probes)

    def __len__(self) -> int:
        return len(self.items)

    def demo_form(self, form: int) -> int:
        """Demonstration form of the items of probe form ``form`` (-1: both forms packed)."""
        return demo_form_for(self.view, max(form, 0))

    def example(self, index: int):
        row, s, form, probe = self.items[index]
        return eval_example(
            self.table,
            self.recipe,
            self.seed,
            row,
            s,
            self.setups[s],
            form,
            None if probe < 0 else probe,
            demo_form=self.demo_form(form),
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        ex = self.example(index)
        built = self.cache.build(ex, self.max_len, continuations=self.option_text)
        return sequences(built, ex, packed=self.packed, option_text=self.option_text)[0]


def rank_world() -> tuple[int, int]:
    """(rank, world size) of the initialised process group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EvalShardSampler(Sampler):
    """This rank's share of an evaluation set: items ``rank, rank + W, rank + 2W, ...``, as ``(index, pad)``.

    Every rank yields ``ceil(n / W)`` entries: the ranks whose share is one short end with a padding
    entry (``pad=True``, repeating a real item), so all ranks run the same number of batches. Under
    FSDP2 each forward all-gathers the parameters, so a rank with one batch fewer would leave the
    others waiting forever. Shares are disjoint and cover all items. The rank and world size are read
    when the sampler is iterated (the process group exists by then).

    Args:
        n: evaluation set length.
        rank, world: override the process group's (tests).
    """

    def __init__(self, n: int, rank: int | None = None, world: int | None = None) -> None:
        self.n, self._rank, self._world = int(n), rank, world

    def _rank_world(self) -> tuple[int, int]:
        rank, world = rank_world()
        return (self._rank if self._rank is not None else rank), (self._world if self._world is not None else world)

    def __len__(self) -> int:
        return -(-self.n // self._rank_world()[1]) if self.n else 0

    def __iter__(self) -> Iterator[tuple[int, bool]]:
        rank, world = self._rank_world()
        for j in range(len(self)):
            i = rank + j * world
            yield (i, False) if i < self.n else (i % self.n, True)


class PaddedEval(Dataset):
    """Wraps an evaluation dataset for :class:`EvalShardSampler`: ``(index, pad)`` -> sequence dict.

    A padding entry is the real item with every probe masked (``answer_positions``, ``labels`` and
    ``option_spans`` set to -1): the model runs on it like on any other sequence (the collectives
    stay in step), and neither the loss nor the metrics see it.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: int | tuple[int, bool]) -> dict[str, Any]:
        index, pad = key if isinstance(key, tuple) else (key, False)
        item = self.dataset[int(index)]
        if pad:
            item = dict(item)
            item["answer_positions"] = np.full_like(item["answer_positions"], -1)
            item["labels"] = np.full_like(item["labels"], -1)
            if "option_spans" in item:
                item["option_spans"] = [np.full_like(s, -1) for s in item["option_spans"]]
        return item


class ResumableLoader(DataLoader):
    """A DataLoader that Lightning treats as resumable: its state is the DataModule's data position.

    Args:
        state_fn, load_fn: the owner's ``state_dict`` / ``load_state_dict``.
        *args, **kwargs: passed to :class:`torch.utils.data.DataLoader`.
    """

    def __init__(self, *args: Any, state_fn: Any, load_fn: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state_fn, self._load_fn = state_fn, load_fn

    def state_dict(self) -> dict[str, Any]:
        return self._state_fn()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_fn(state)


class ResumableSampler(Sampler):
    """Yields ``(epoch, index)`` over a seeded per-epoch permutation, sharded over ranks.

    Args:
        n: dataset length; seed: permutation seed; shuffle: permute (True) or keep order.
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch, self.start = 0, 0
        self._resume: tuple[int, int] | None = None

    @staticmethod
    def _rank_world() -> tuple[int, int]:
        return rank_world()

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (Lightning calls this at every epoch start); a pending resume of this
        epoch stays in force until the sampler is iterated."""
        self.epoch = int(epoch)
        self.start = self._resume[1] if self._resume is not None and self._resume[0] == self.epoch else 0

    def resume(self, epoch: int, position: int) -> None:
        """Start ``epoch`` at global example ``position`` (examples consumed over all ranks).

        Every rank skips ``position // world_size`` of its own examples, which is exact for the
        rank-strided split when ``position`` counts whole global batches.
        """
        self._resume = (int(epoch), int(position))
        self.set_epoch(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's global order of dataset indices."""
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, TAG_ORDER, epoch]).permutation(self.n)

    def _mine(self) -> np.ndarray:
        """This rank's share of the whole epoch (the order padded by wrapping to a multiple of ranks)."""
        rank, world = self._rank_world()
        order = self.order(self.epoch)
        if world > 1 and len(order) % world:
            order = np.concatenate([order, order[: world - len(order) % world]])
        return order[rank::world]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, (_, world) = self.epoch, self._rank_world()
        mine = self._mine()[self.start // world :]
        if self._resume is not None and self._resume[0] == epoch:
            self._resume = None  # the resumed epoch is under way: its next pass starts from the beginning
        for i in mine.tolist():
            yield epoch, i

    def __len__(self) -> int:
        """The whole epoch's length on this rank, also when resuming mid-epoch (Lightning counts the
        batches already done itself)."""
        return len(self._mine())
