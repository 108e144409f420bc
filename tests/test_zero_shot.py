"""End-to-end zero-shot probing on a tiny local Llama (transformers backend), the cache and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.codebook import codebook_from_dict
from ivr.catalog.store import Catalog, load_catalog, write_catalog
from ivr.protocol.probes import probe_setups
from ivr.settings import DataSettings
from ivr.zero_shot.__main__ import build_parser, main, zero_shot
from ivr.zero_shot.backends import (
    BackendNotInstalledError,
    BackendOptions,
    ModelNotFoundError,
    check_model,
    make_generator,
)
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.run import ProbeSettings

N_CATEGORIES, PER_CATEGORY = 2, 6


def tiny_codebook_dict() -> dict:
    """2 categories x 6 questions (6 probes per setup): polar 2 options, refined 3 or 4; two demographics."""
    cats = [f"Topic {c}" for c in range(N_CATEGORIES)]
    questions = []
    for c in range(N_CATEGORIES):
        for j in range(PER_CATEGORY):
            qid = f"T{c}Q{j}"
            n_ref = 3 + (j % 2)
            refined = [
                {"codes": [k + 1], "statement": f"on {qid} my view is shade {k + 1} of {n_ref}"} for k in range(n_ref)
            ]
            split = n_ref // 2
            polar = [
                {"codes": list(range(1, split + 1)), "statement": f"I lean towards yes on {qid}"},
                {"codes": list(range(split + 1, n_ref + 1)), "statement": f"I lean towards no on {qid}"},
            ]
            questions.append(
                {
                    "id": qid,
                    "category": cats[c],
                    "type": "mc",
                    "codes": list(range(1, n_ref + 1)),
                    "refined": refined,
                    "polar": polar,
                }
            )
    demographics = [
        {
            "id": "REGION",
            "column": "REGION",
            "name": "region",
            "template": "I live in {value}",
            "values": {1: "the north", 2: "the south", 3: "the west"},
            "dimension": "Region",
        },
        {
            "id": "SEX",
            "column": "SEX",
            "name": "sex",
            "template": "I am {value}",
            "values": {1: "a man", 2: "a woman"},
            "dimension": "Sex",
        },
    ]
    return {
        "name": "tiny",
        "roles": {"person_id": "pid", "country": "REGION"},
        "categories": cats,
        "questions": questions,
        "demographics": demographics,
    }


def tiny_catalog(n_people: int = 40, seed: int = 0, codebook: dict | None = None) -> Catalog:
    cb = codebook_from_dict(codebook or tiny_codebook_dict())
    rng = np.random.default_rng(seed)
    refined = np.stack([rng.integers(0, len(q.refined), n_people) for q in cb.questions], axis=1).astype(np.int8)
    polar = np.stack(
        [
            np.array([q.code_to_index("polar")[q.refined[r].codes[0]] for r in refined[:, i]])
            for i, q in enumerate(cb.questions)
        ],
        axis=1,
    ).astype(np.int8)
    demo = np.stack([rng.integers(1, 4, n_people), rng.integers(1, 3, n_people)], axis=1).astype(np.int32)
    return Catalog(cb, np.arange(1000, 1000 + n_people), polar, refined, demo)


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def train_tokenizer(cat: Catalog, out_dir: Path):
    """A byte-level BPE trained offline on rendered probe prompts, with a small chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from ivr.data.prompts import render_probe_json

    cb = cat.codebook
    corpus = []
    for form in ("polar", "refined"):
        groups = [q.statements(form) for q in cb.questions]
        corpus += [render_probe_json([s for g in groups for s in g], groups)] * 3
    corpus += ['{"NSG1": {"choice": "NSG1_s2", "rationale": "fits"}}'] * 20
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    special = ["<pad>", "<unk>", "<bos>", "<eos>", "<|user|>", "<|assistant|>", "<|end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=special[4:],
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(str(out_dir))
    return tok


def build_tiny(root: Path, max_positions: int = 2048, cat: Catalog | None = None) -> tuple[Path, Path]:
    """Write the tiny catalog and a tiny random Llama (head_dim 32, as vLLM's CPU attention needs)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cat = cat if cat is not None else tiny_catalog()
    cat_dir = write_catalog(cat, root / "catalog")
    model_dir = root / "model"
    tok = train_tokenizer(cat, model_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(cfg).save_pretrained(model_dir)
    return cat_dir, model_dir


def tiny_probe(**kw) -> ProbeSettings:
    base = dict(demo_counts=[3, 6], max_new_tokens=12, chunk_size=2)
    return ProbeSettings(**{**base, **kw})


def tiny_data(catalog: Path, **kw) -> DataSettings:
    """Who is probed: 3 of 6 stratified people of the tiny catalog, setups 0 and 1."""
    base = dict(
        catalog=str(catalog), setups=[0, 1], limit_eval_people=3, split_rule="stratified", split_size=6, min_valid=0
    )
    return DataSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    return build_tiny(tmp_path_factory.mktemp("zs"))


def _oracle_hook(catalog: Catalog, mode: str):
    """Replace the model: answer every group correctly (or as wrapped noise) from the catalog."""
    from ivr.zero_shot.run import Job

    def hook(_respond):
        def respond(jobs: list[Job]) -> list[str]:
            out = []
            for j in jobs:
                target = catalog.answers(j.form)[j.row, j.questions]
                items = [(k + 1, int(t) + 1) for k, t in enumerate(target)]
                if mode == "reversed":  # keys in reverse order: pairing by position would be wrong
                    items = items[::-1]
                body = ", ".join(f"'NSG{g}': {{'choice': 'NSG{g}_s{o}',}}" for g, o in items)
                out.append(f"Sure, here it is:\n```json\n{{{body}}}\n```\nThanks")
            return out

        return respond

    return hook


@pytest.mark.parametrize("mode", ["ordered", "reversed"])
def test_pipeline_scores_answers_by_group_key(tiny, tmp_path, mode):
    cat_dir, model_dir = tiny
    cat = load_catalog(cat_dir)
    res = zero_shot(
        str(model_dir),
        tiny_data(cat_dir),
        str(tmp_path / "out"),
        probe=tiny_probe(),
        bootstrap=0,
        respond_hook=_oracle_hook(cat, mode),
    )
    assert [r["demos"] for r in res] == [3, 6]
    for r in res:
        assert r["parse_failure_rate"] == 0.0
        assert r["table3_row"]["polar"] == [100.0, 100.0]
        assert r["prompts"] == 3 * 2
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {
        "results.json",
        "table14.md",
        "figure2.png",
        "responses.jsonl",
    }


def test_report_lists_published_rows(tiny, tmp_path):
    cat_dir, model_dir = tiny
    paper = {
        "table14_zero_shot_polar": {"_about": "x", "Model A": [60.0, 61.0, 62.0, 61.0]},
        "table13_demo_form": {"refined_demos": [1.0, 2.0, 3.0, 2.0], "polar_demos": [4.0, 5.0, 6.0, 5.0]},
        "table3_methods": {
            "Model A (no demo.)": {
                "polar": [50.0, 51.0, 52.0],
                "polar_avg": 51.0,
                "refined": [1, 2, 3],
                "refined_avg": 2,
                "all": 3,
            }
        },
    }
    (tmp_path / "paper.json").write_text(json.dumps(paper))
    cat = load_catalog(cat_dir)
    zero_shot(
        str(model_dir),
        tiny_data(cat_dir),
        str(tmp_path / "out"),
        probe=tiny_probe(demo_counts=[6]),
        bootstrap=0,
        published=True,
        paper=str(tmp_path / "paper.json"),
        respond_hook=_oracle_hook(cat, "ordered"),
    )
    table = (tmp_path / "out" / "table14.md").read_text()
    assert "| Model A, 200 polar demos | published | polar | 60.00 | 61.00 | 62.00 | 61.00 |" in table
    assert "Model A (no demo.)" in table and "GPT-4o (0806), refined demos" in table
    assert "| 6 polar demos (generate) | polar | 100.00 | 100.00 | — | 100.00 | — | 0.0 | 0 |" in table
    assert "Table 14" in table  # the reference rows say where they come from
    with pytest.raises(FileNotFoundError, match="nope.json"):
        zero_shot(
            str(model_dir),
            tiny_data(cat_dir),
            str(tmp_path / "o2"),
            probe=tiny_probe(demo_counts=[6]),
            bootstrap=0,
            published=True,
            paper=str(tmp_path / "nope.json"),
            respond_hook=_oracle_hook(cat, "ordered"),
        )


def test_tiny_model_end_to_end_and_resume(tiny, tmp_path):
    """Interrupt after k prompts, rerun: cached prompts are never re-sent and results are identical."""
    cat_dir, model_dir = tiny
    sent: list[list[int]] = []
    k = 2

    def interrupting(respond):
        def wrapped(jobs):
            if len(sent) + len(jobs) > k:
                raise KeyboardInterrupt  # as if the run were killed mid-way
            sent.extend(j.ids for j in jobs)
            return respond(jobs)

        return wrapped

    def counting(respond):
        def wrapped(jobs):
            sent.extend(j.ids for j in jobs)
            return respond(jobs)

        return wrapped

    probe = tiny_probe(chunk_size=1, demographics="with", max_new_tokens=4)
    data = tiny_data(cat_dir, limit_eval_people=2, setups=[0])
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        zero_shot(str(model_dir), data, str(out), probe=probe, bootstrap=0, respond_hook=interrupting)
    assert len(ResponseCache(out / "responses.jsonl")) == k
    first = list(sent)
    sent.clear()
    resumed = zero_shot(str(model_dir), data, str(out), probe=probe, bootstrap=0, respond_hook=counting)
    assert len(sent) == 2 * 2 - k
    assert not {tuple(s) for s in sent} & {tuple(s) for s in first}

    sent.clear()
    fresh = zero_shot(str(model_dir), data, str(tmp_path / "fresh"), probe=probe, bootstrap=0, respond_hook=counting)
    assert len(sent) == 4
    for a, b in zip(resumed, fresh, strict=True):
        assert a["table3_row"] == b["table3_row"] and a["unreadable_groups"] == b["unreadable_groups"]
    replies = [json.loads(line)["response"] for line in (out / "responses.jsonl").read_text().splitlines()]
    assert len(replies) == 4 and all(isinstance(r, str) for r in replies)


def test_cache_survives_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "responses.jsonl"
    cache = ResponseCache(path)
    cache.put("m", "h1", "first reply", row=1)
    with open(path, "a") as fh:
        fh.write('{"model": "m", "prompt_hash": "h2", "resp')  # the kill hit mid-write
    resumed = ResponseCache(path)
    assert len(resumed) == 1 and resumed.n_corrupt == 1 and resumed.get("m", "h2") is None
    resumed.put("m", "h2", "second reply")
    again = ResponseCache(path)
    assert again.get("m", "h1")["response"] == "first reply" and again.get("m", "h2")["response"] == "second reply"
    assert again.get("other-model", "h1") is None


def test_truncation_drops_whole_demos(tiny, tmp_path):
    cat_dir, model_dir = tiny
    seen: list[int] = []

    def hook(_respond):
        def respond(jobs):
            seen.extend(len(j.ids) for j in jobs)
            return ["{}"] * len(jobs)

        return respond

    # a context between the prompt without and with all 12 demonstrations: some must be dropped
    from ivr.zero_shot.backends import encode_prompt, load_tokenizer
    from ivr.zero_shot.run import build_jobs

    cat, tok = load_catalog(cat_dir), load_tokenizer(str(model_dir))
    sizes = [
        len(
            build_jobs(
                cat,
                np.array([0]),
                {0: probe_setups(cat.codebook)[0]},
                tiny_probe(demo_counts=[d]),
                lambda t: encode_prompt(tok, t),
                10**6,
            )[0].ids
        )
        for d in (0, 12)
    ]
    limit = sum(sizes) // 2 + 12
    res = zero_shot(
        str(model_dir),
        tiny_data(cat_dir, setups=[0]),
        str(tmp_path / "o"),
        probe=tiny_probe(demo_counts=[12]),
        engine=BackendOptions(max_model_len=limit),
        bootstrap=0,
        respond_hook=hook,
    )
    assert res[0]["prompts_truncated"] == 3
    assert 0 < res[0]["demos_dropped"] < 3 * 12
    assert seen and max(seen) <= limit - 12
    assert res[0]["parse_failure_rate"] == 1.0  # "{}" answers nothing: every group counted wrong


def test_logits_scoring(tiny, tmp_path):
    cat_dir, model_dir = tiny
    res = zero_shot(
        str(model_dir),
        tiny_data(cat_dir, setups=[0]),
        str(tmp_path / "l"),
        scoring="logits",
        probe=tiny_probe(demo_counts=[6]),
        bootstrap=0,
    )
    assert res[0]["parse_failure_rate"] == 0.0
    cal = res[0]["report"]["calibration"]["polar"]
    assert 0.0 <= cal["brier"] <= 2.0


def test_bad_input(tiny, tmp_path):
    cat_dir, model_dir = tiny
    with pytest.raises(ModelNotFoundError, match="no such folder"):
        check_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelNotFoundError, match="--model .* no such folder"):
        main(["--model", str(tmp_path / "nope"), "--data.catalog", str(cat_dir)])
    with pytest.raises(ModelNotFoundError, match="config.json"):
        check_model(str(tmp_path))
    with pytest.raises(ValueError, match="demographics"):
        tiny_probe(demographics="sometimes").validate()
    with pytest.raises(ValueError, match="without any demonstration"):
        zero_shot(
            str(model_dir),
            tiny_data(cat_dir),
            str(tmp_path / "x"),
            probe=tiny_probe(),
            engine=BackendOptions(max_model_len=64),
            bootstrap=0,
        )
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(BackendNotInstalledError, match=r"ivr\[vllm\]"):
            make_generator("vllm", str(model_dir), BackendOptions())


def test_config_file_parses():
    cfg_path = Path(__file__).resolve().parents[1] / "configs" / "zero_shot.yaml"
    cfg = build_parser().parse_args(["--config", str(cfg_path), "--model", "some/model"])
    probe = ProbeSettings(**dict(cfg.probe))
    probe.validate()
    assert probe.demo_counts == [0, 50, 100, 150, 200]
    assert cfg.backend in ("hf", "vllm")


def test_eleven_options_are_parsed_and_scored(tmp_path):
    """A 0-10 scale (11 refined options) through generation (oracle answers) and logits scoring."""
    data = tiny_codebook_dict()
    q = data["questions"][0]
    q["codes"] = list(range(0, 11))
    q["refined"] = [{"codes": [k], "statement": f"on T0Q0 I put myself at {k} of 10"} for k in range(11)]
    q["polar"] = [
        {"codes": list(range(0, 5)), "statement": "I lean towards no on T0Q0"},
        {"codes": list(range(5, 11)), "statement": "I lean towards yes on T0Q0"},
    ]
    cat = tiny_catalog(codebook=data)
    cat_dir, model_dir = build_tiny(tmp_path / "m", cat=cat)
    cat = load_catalog(cat_dir)
    assert int(cat.refined[:, 0].max()) == 10
    res = zero_shot(
        str(model_dir),
        tiny_data(cat_dir, setups=[0]),
        str(tmp_path / "g"),
        probe=tiny_probe(demo_counts=[3], probe_forms=["refined"]),
        bootstrap=0,
        respond_hook=_oracle_hook(cat, "ordered"),
    )
    assert res[0]["parse_failure_rate"] == 0.0 and res[0]["table3_row"]["refined"] == [100.0]
    res = zero_shot(
        str(model_dir),
        tiny_data(cat_dir, setups=[0]),
        str(tmp_path / "l"),
        scoring="logits",
        probe=tiny_probe(demo_counts=[3], probe_forms=["refined"]),
        bootstrap=0,
    )
    assert res[0]["parse_failure_rate"] == 0.0
    cal = res[0]["report"]["calibration"]["refined"]  # option probabilities, 11 wide for the 0-10 scale
    assert 0.0 <= cal["brier"] <= 2.0
    # no --probe.demo_counts: the protocol's evaluation count, every valid answer on this 12-question survey
    res = zero_shot(
        str(model_dir),
        tiny_data(cat_dir, setups=[0]),
        str(tmp_path / "p"),
        probe=ProbeSettings(max_new_tokens=12, probe_forms=["refined"]),
        bootstrap=0,
        respond_hook=_oracle_hook(cat, "ordered"),
    )
    assert [r["demos"] for r in res] == [12] and res[0]["table3_row"]["refined"] == [100.0]
