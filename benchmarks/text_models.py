"""Which text model for a Chinese and English catalogue: bilingual retrieval accuracy and speed, as a table.

    python benchmarks/text_models.py [BACKEND:MODEL ...]    (default: the registered offline default)

Eight short documents (four Chinese, four English) and sixteen queries, half of them in the other language than
their document. A query scores a hit when its own document ranks first.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DOCS = {
    "cat": "一只猫在沙发上睡觉，阳光照在它身上",
    "stocks": "股票市场今天大幅下跌，投资者担心经济衰退",
    "rocket": "火箭从发射台升空，把宇航员送往国际空间站",
    "dumplings": "教你在家包饺子：和面、调馅、擀皮",
    "soup": "A recipe for tomato soup with garlic and fresh basil",
    "football": "The striker scored twice in the second half to win the cup final",
    "garden": "Pruning apple trees in winter and growing roses in a small garden",
    "laptop": "Review of a lightweight laptop: battery life, keyboard and screen",
}
QUERIES = [
    ("猫咪睡觉", "cat"), ("sleeping kitten", "cat"),
    ("股市暴跌", "stocks"), ("stock market crash", "stocks"),
    ("宇宙飞船发射", "rocket"), ("rocket launch to the space station", "rocket"),
    ("饺子怎么包", "dumplings"), ("how to make dumplings", "dumplings"),
    ("番茄汤怎么做", "soup"), ("tomato soup recipe", "soup"),
    ("足球决赛进球", "football"), ("football final goals", "football"),
    ("修剪果树", "garden"), ("how to prune an apple tree", "garden"),
    ("笔记本电脑评测", "laptop"), ("laptop battery review", "laptop"),
]


def evaluate(backend: str, model: str = "") -> tuple[str, float, float, float]:
    from reelmind import registry

    text = registry.load("text", backend, model)
    names = list(DOCS)
    doc_vectors = text.embed_passages([DOCS[n] for n in names])
    started = time.perf_counter()
    query_vectors = text.embed_queries([q for q, _ in QUERIES])
    ms_per_text = 1000 * (time.perf_counter() - started) / len(QUERIES)
    best = (query_vectors @ doc_vectors.T).argmax(axis=1)
    hits = [names[b] == want for b, (_, want) in zip(best, QUERIES)]
    cross = [h for h, (q, want) in zip(hits, QUERIES) if q.isascii() != DOCS[want].isascii()]
    return text.model_id, sum(hits) / len(hits), sum(cross) / len(cross), ms_per_text


def main(choices: list[str]) -> None:
    print(f"| {'model':<44} | {'top-1':>6} | {'cross-lingual top-1':>19} | {'ms / query':>10} |")
    print(f"|{'-' * 46}|{'-' * 8}|{'-' * 21}|{'-' * 12}|")
    for choice in choices:
        backend, _, model = choice.partition(":")
        model_id, top1, cross, ms = evaluate(backend, model)
        print(f"| {model_id:<44} | {top1:>6.2f} | {cross:>19.2f} | {ms:>10.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["multilingual-e5-small"])
