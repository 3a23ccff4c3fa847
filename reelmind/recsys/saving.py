"""Fitted recommenders as data, never code: numpy arrays, a JSON document, and LightGBM's own text format.

`save(model)` walks what the model declares (`Recommender._state()`, on top of the Interactions and Items it was
fitted on) into a `SavedModel`: every array by number, a JSON document naming the class as the registry lists it
with its constructor parameters and everything else, and long texts (the hybrid's LightGBM ranker) on their own.
A model inside another (the hybrid's components) is saved the same way, recursively; the Interactions and Items
they share are saved once. `load(saved)` looks the class up among the registered ones by name (anything else is
refused), builds it from its parameters and hands it its state (`_restore`). Arrays are read with
allow_pickle=False and the rest is JSON: reading a saved model cannot run code, whoever wrote it.

In the document a value is plain JSON, or a one-key object saying what to rebuild: {"$array": n},
{"$csr": [data, indices, indptr], "shape": ...}, {"$text": n}, {"$shared": n} (an Interactions or Items in
`shared`), or {"$model": class name, "params": ..., "state": ...}.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from reelmind.recsys.base import Recommender
from reelmind.recsys.data import Interactions, Items

# The document's layout. A reader refuses any other: fitting a model again is cheap, serving a misread one is not.
FORMAT = 2  # 2: the ranker reads the recent-history features (reelmind.recsys.rerank)


class Text(str):
    """A long text kept out of the JSON document (LightGBM's model text)."""


@dataclass(frozen=True)
class SavedModel:
    document: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def npz(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **self.arrays)
        return buffer.getvalue()

    @classmethod
    def from_parts(cls, document: str, npz: bytes, texts: str) -> SavedModel:
        """From the JSON document, the npz bytes and the JSON texts, as stored."""
        with np.load(io.BytesIO(npz), allow_pickle=False) as arrays:
            return cls(json.loads(document), {name: arrays[name] for name in arrays.files}, json.loads(texts))

    def document_json(self) -> str:
        return json.dumps(self.document, ensure_ascii=False)

    def texts_json(self) -> str:
        return json.dumps(self.texts, ensure_ascii=False)


def registered_classes() -> dict[str, type[Recommender]]:
    """The classes a saved model may name. Imported here, not at the top: the registry imports every model, and
    the hybrid imports this module."""
    from reelmind.recsys import registry

    return {entry.cls.__name__: entry.cls for entry in registry.RECOMMENDERS.values()}


def save(model: Recommender) -> SavedModel:
    encoder = _Encoder()
    root = encoder.encode(model)
    return SavedModel({"format": FORMAT, "model": root, "shared": encoder.shared}, encoder.arrays, encoder.texts)


class OutdatedModelError(ValueError):
    """A model saved by an older ReelMind, in a layout this one no longer reads: fit it again."""


def load(saved: SavedModel) -> Recommender:
    """The saved model; OutdatedModelError for an older format, ValueError (one line) for anything else, such as a
    document edited by hand."""
    version = saved.document.get("format")
    if isinstance(version, int) and 0 < version < FORMAT:
        raise OutdatedModelError(f"saved model format {version}, this ReelMind reads {FORMAT}: fit the model again")
    if version != FORMAT:
        raise ValueError(f"saved model format {version!r}, this ReelMind reads {FORMAT}: fit the model again")
    try:
        model = _Decoder(saved).decode(saved.document["model"])
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed saved model ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    if not isinstance(model, Recommender):
        raise ValueError("the saved document holds no model")
    return model


class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.texts: dict[str, str] = {}
        self.shared: list[dict] = []
        self._shared_at: dict[int, int] = {}  # id() of an Interactions or Items -> its place in `shared`

    def array(self, value: np.ndarray) -> int:
        key = len(self.arrays)
        self.arrays[str(key)] = np.asarray(value)
        return key

    def encode(self, value: object) -> object:
        if isinstance(value, Recommender):
            state = None
            if hasattr(value, "interactions"):  # fitted
                state = {"interactions": value.interactions, "items": value.items, **value._state()}
            return {"$model": type(value).__name__, "params": self.encode(value.get_params()),
                    "state": self.encode(state)}
        if isinstance(value, (Interactions, Items)):
            if id(value) not in self._shared_at:
                self._shared_at[id(value)] = len(self.shared)
                self.shared.append(self.encode(_fields(value)))
            return {"$shared": self._shared_at[id(value)]}
        if isinstance(value, Text):
            key = len(self.texts)
            self.texts[str(key)] = str(value)
            return {"$text": key}
        if sparse.issparse(value):
            csr = value.tocsr()
            return {"$csr": [self.array(csr.data), self.array(csr.indices), self.array(csr.indptr)],
                    "shape": list(csr.shape)}
        if isinstance(value, np.ndarray):
            return {"$array": self.array(value)}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Mapping):
            if not all(isinstance(k, str) and not k.startswith("$") for k in value):
                raise TypeError(f"cannot save a dict with keys {list(value)[:3]}: keys must be strings without '$'")
            return {k: self.encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.encode(v) for v in value]
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        raise TypeError(f"cannot save a {type(value).__name__}: declare it in _state() as arrays, text or JSON")


def _fields(value: Interactions | Items) -> dict:
    if isinstance(value, Interactions):
        return {"kind": "interactions", "user_ids": value.user_ids, "item_ids": value.item_ids,
                "matrix": value.matrix, "last_seen": value.last_seen}
    return {"kind": "items", "ids": value.ids, "titles": value.titles, "texts": value.texts,
            "text_vectors": value.text_vectors, "visual_vectors": value.visual_vectors,
            "created_at": value.created_at}


class _Decoder:
    def __init__(self, saved: SavedModel):
        self.saved = saved
        self.classes = registered_classes()
        self.shared = [self._rebuild(self.decode(part)) for part in saved.document.get("shared", [])]

    @staticmethod
    def _rebuild(f: dict) -> Interactions | Items:
        if f["kind"] == "interactions":
            return Interactions(tuple(f["user_ids"]), tuple(f["item_ids"]), f["matrix"], f["last_seen"])
        return Items.restored(f["ids"], f["titles"], f["texts"], f["text_vectors"], f["visual_vectors"],
                              f["created_at"])

    def decode(self, node: object) -> object:
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$model" in node:
            return self._model(node)
        if "$shared" in node:
            return self.shared[node["$shared"]]
        if "$array" in node:
            return self.saved.arrays[str(node["$array"])]
        if "$text" in node:
            return self.saved.texts[str(node["$text"])]
        if "$csr" in node:
            data, indices, indptr = (self.saved.arrays[str(n)] for n in node["$csr"])
            return sparse.csr_matrix((data, indices, indptr), shape=tuple(node["shape"]))
        return {k: self.decode(v) for k, v in node.items()}

    def _model(self, node: dict) -> Recommender:
        name = node["$model"]
        if name not in self.classes:
            raise ValueError(f"saved model class {name!r} is not a registered recommender "
                             f"(known: {', '.join(sorted(self.classes))})")
        cls = self.classes[name]
        params = self.decode(node["params"])
        unknown = set(params) - set(cls.param_names())
        if unknown:
            raise ValueError(f"saved {name} has parameter(s) {', '.join(sorted(unknown))} it does not take")
        model = cls(**params)
        if node["state"] is not None:
            state = self.decode(node["state"])
            model.interactions, model.items, model.user_texts = state.pop("interactions"), state.pop("items"), {}
            model._restore(state)
        return model
