"""The default text model's query embeddings: QUERY_THREADS OpenMP threads for a query, the count restored after."""

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
