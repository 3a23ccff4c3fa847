"""The default text model: a query on QUERY_THREADS OpenMP threads (the count restored after); texts cut at
MAX_TOKENS."""

import numpy as np

from reelmind import registry, text_embed


def test_a_query_is_embedded_on_its_own_thread_count_which_is_restored_after():
    model = registry.load("text", "multilingual-e5-small", "")
    assert model._openmp is not None  # the wheel's own runtime, which the engine uses
    before = model._openmp.omp_get_max_threads()
    seen = []
    real = model.model.query  # recorded, still run
    model.model.query = lambda texts: seen.append(model._openmp.omp_get_max_threads()) or real(texts)
    try:
        vector = model.embed_queries(["how long to bake bread"])[0]
    finally:
        model.model.query = real
    assert seen == [text_embed.QUERY_THREADS]
    assert model._openmp.omp_get_max_threads() == before
    assert np.isclose(np.linalg.norm(vector), 1.0)
    # the same vector as with the default thread count: only the speed changes
    direct = model.model.query(["how long to bake bread"])[0]
    assert np.allclose(vector, direct / np.linalg.norm(direct), atol=1e-5)


def test_a_text_longer_than_the_model_reads_is_cut_at_its_limit():
    """E5 reads at most MAX_TOKENS: a longer passage is embedded as its longest start that fits, not window by
    window, so its cost stays bounded; a shorter one is untouched."""
    model = registry.load("text", "multilingual-e5-small", "")
    head = "Tomato soup, how to make it at home: roast the tomatoes first. "
    tail = "太空站的宇航员在轨道上工作，然后火箭发射。" * 200  # ~4,000 more tokens, another language, another topic
    long_text = head * 20 + tail
    cut = model._cut(long_text, is_query=False)
    assert cut.startswith(head * 20) and len(cut) < len(long_text)
    assert model.model.token_count(cut) <= text_embed.MAX_TOKENS < model.model.token_count(long_text[:len(cut) + 1])
    vectors = model.embed_passages([long_text, cut, head])
    assert np.allclose(vectors[0], vectors[1], atol=1e-6)
    assert np.allclose(vectors[2], model.embed_passages([head])[0], atol=1e-6)
    assert model._cut(head, is_query=True) == head
