"""A stood-in data set's vocabulary (:mod:`.livedata`): text VAEs size their embedding and
output layers from what their data set read from files (``len(train.w2i)``,
``train.vocab_size``, ``train.w2i["<pad>"]``). Where those files are not here and an
``--input`` of token ids gives the vocabulary's size (``32x20:int64:1000``: ids below 1000),
an attribute named as a vocabulary is one of that size, so the model is built as the data
would build it; a size named so (``vocab_size``, ``n_words``) is that number. Likewise a count of
classes (``dataset.num_classes``, ``len(dataset.classes)``: a conditional VAE sized by its labels)
is the bound of an --input of labels, one whole number per sample (``32:int64:10``)."""

from __future__ import annotations

import re

# w2i, i2w, stoi, itos, word2idx, idx2word, word_to_ix, token2id, char2idx, vocab, dictionary
_VOCAB = re.compile(
    r"^(vocab(ulary)?|dictionary|(w|word|token|tok|char|c)_?(2|to)_?(i|ix|idx|index|id)"
    r"|(i|ix|idx|index|id)_?(2|to)_?(w|word|token|tok|char|c)|stoi|itos)$",
    re.IGNORECASE,
)
_SIZE = re.compile(r"^(vocab(ulary)?_?size|n_?vocab|num_?vocab|n_?words|num_?words|n_?tokens|num_?tokens|ntokens|ntoken)$", re.IGNORECASE)
SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")
# num_classes, n_classes, nclasses, num_labels, class_num, number_of_classes; classes, class_names
_CLASS_COUNT = re.compile(r"^(num_?|n_?|number_of_)(classes|labels|class|categories)|(class|classes|label)_?num$", re.IGNORECASE)
_CLASS_NAMES = re.compile(r"^(classes|class_names|label_names|categories)$", re.IGNORECASE)


def vocabulary_size(specs) -> int | None:
    """The vocabulary an --input of token ids gives: its ids' bound."""
    for spec in specs:
        if spec.dtype.startswith("int") and spec.high and spec.high > len(SPECIALS):
            return spec.high
    return None


def given_attribute(item: str, specs):
    """(what a stood-in data set's attribute ``item`` is, how the report says it) where its name says
    vocabulary or class count and an --input gives its size; None for any other."""
    vocab = vocab_attribute(item, specs)
    if vocab is not None:
        size = len(vocab) if hasattr(vocab, "__len__") else vocab
        return vocab, f"a vocabulary of {size} words, the bound of the --input's token ids"
    labels = next((s.high for s in specs if s.dtype.startswith("int") and s.high and len(s.shape) == 1 and not s.name), None)
    if labels is None:
        return None
    if _CLASS_COUNT.match(item):
        return labels, f"{labels}, the bound of the --input's labels"
    if _CLASS_NAMES.match(item):
        return [str(i) for i in range(labels)], f"{labels} class names, the bound of the --input's labels"
    return None


def how_to_give(item: str) -> str:
    """The --input that gives a stood-in data set's attribute of this name, or ""."""
    if _CLASS_COUNT.match(item) or _CLASS_NAMES.match(item):
        return (
            f"Give the labels with one more --input (e.g. --input 32:int64:10 for 10 classes): the data set's {item} is then their bound."
        )
    if _SIZE.match(item) or _VOCAB.match(item):
        return f"Give token ids with --input (e.g. --input 32x40:int64:5000 for 5000 words): the data set's {item} is then that vocabulary."
    return ""


def vocab_attribute(item: str, specs):
    """What a stood-in data set's attribute ``item`` is, where its name says vocabulary and the
    specs give its size; None for any other."""
    size = vocabulary_size(specs)
    if size is None:
        return None
    if _SIZE.match(item):
        return size
    if not _VOCAB.match(item):
        return None
    by_index = bool(re.match(r"^(i|ix|idx|index|id)_?(2|to)|^itos$", item, re.IGNORECASE))
    return Vocabulary(size, by_index)


class Vocabulary(dict):
    """A vocabulary of ``size`` words: word -> index (``w2i["<pad>"]`` is 0, ``<sos>`` 1,
    ``<eos>`` 2, ``<unk>`` 3; any other word has an index of its own) or, ``by_index``,
    index -> word (keys as ints and as their strings, as JSON-read ``i2w`` has them)."""

    def __init__(self, size: int, by_index: bool):
        words = [*SPECIALS, *(f"w{i}" for i in range(len(SPECIALS), size))]
        super().__init__({i: w for i, w in enumerate(words)} if by_index else {w: i for i, w in enumerate(words)})
        self.size, self.by_index = size, by_index

    def __missing__(self, key):
        if self.by_index:
            return self.get(int(key), "<unk>") if str(key).lstrip("-").isdigit() else "<unk>"
        return sum(map(ord, str(key))) % (self.size - len(SPECIALS)) + len(SPECIALS)

    def get(self, key, default=None):
        if self.by_index and key not in self and not str(key).isdigit():
            return default
        return self[key]  # every word has an index

    def __len__(self):
        return self.size

    def __getattr__(self, name):  # torchtext's Vocab / a Dictionary object: .stoi, .itos, .word2idx
        if name.startswith("_"):
            raise AttributeError(name)
        if _VOCAB.match(name):
            return Vocabulary(self.size, bool(re.match(r"^(i|ix|idx|index|id)_?(2|to)|^itos$", name, re.IGNORECASE)))
        raise AttributeError(name)
