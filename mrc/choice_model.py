"""The multiple-choice reader's own head: mean pooling over the encoder's tokens, then one linear
layer that scores each (article, question + option) row (the pooling of the answer judge,
`mrc.judge.pooled_logits`).

`BertForMultipleChoice` scores the tanh "pooler" over the CLS token. Our encoder (all-MiniLM-L6-v2,
then SQuAD) never trained that pooler: sentence-transformers mean-pool its tokens. Fine-tuned
through CLS, the loss sat at ln 4 (chance over four options) for 1,500 steps while the pooler was
learnt from nothing. Mean pooling is how the encoder was trained to sum a text up, so the head
starts from a representation that already means something.

A folder is the encoder in the Hugging Face layout (`AutoModel`) plus the head in its
`qa_reader.json` (`choice_head`: pooling, weight, bias); `load_choice_model` reads it, and any
plain `AutoModelForMultipleChoice` folder too, so `--model DIR` keeps working with public models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mrc.judge import pooled_logits
from qa.core.errors import ModelNotFoundError
from qa.core.text import json_file

HEAD_KEY = "choice_head"


@dataclass
class ChoiceOutput:
    logits: torch.Tensor
    loss: torch.Tensor | None = None


class MeanPooledChoiceModel(torch.nn.Module):
    """(batch, options, length) inputs -> (batch, options) logits."""

    def __init__(self, encoder: Any, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(int(encoder.config.hidden_size), 1)
        torch.nn.init.normal_(self.classifier.weight, std=0.02)
        torch.nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> ChoiceOutput:
        b, c, n = input_ids.shape
        rows = {"input_ids": input_ids.reshape(b * c, n), "attention_mask": attention_mask.reshape(b * c, n)}
        if token_type_ids is not None:
            rows["token_type_ids"] = token_type_ids.reshape(b * c, n)
        logits = pooled_logits(self.encoder, lambda pooled: self.classifier(self.dropout(pooled)), rows).reshape(b, c)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return ChoiceOutput(logits=logits, loss=loss)

    def head_config(self) -> dict[str, Any]:
        return {"pooling": "mean", "weight": [float(x) for x in self.classifier.weight.detach().float().view(-1)],
                "bias": float(self.classifier.bias.detach().float())}

    def load_head(self, head: dict[str, Any]) -> None:
        if head.get("pooling") != "mean" or len(head.get("weight") or []) != self.classifier.in_features:
            raise ModelNotFoundError(f"'{HEAD_KEY}' must hold mean pooling and {self.classifier.in_features} weights")
        with torch.no_grad():
            self.classifier.weight.copy_(torch.tensor(head["weight"], dtype=torch.float32).view(1, -1))
            self.classifier.bias.fill_(float(head["bias"]))


def choice_head(model_dir: Path) -> dict[str, Any] | None:
    """The mean-pooling head stated in a folder's `qa_reader.json`, or None (a CLS-pooled folder)."""
    try:
        head = json_file(Path(model_dir) / "qa_reader.json").get(HEAD_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    if head is not None and not isinstance(head, dict):
        raise ModelNotFoundError(f"{model_dir}/qa_reader.json: '{HEAD_KEY}' must be an object")
    return head


def load_choice_model(model_dir: Path, device: torch.device) -> Any:
    """Our mean-pooled reader where the folder states its head, else `AutoModelForMultipleChoice`."""
    from transformers import AutoModel, AutoModelForMultipleChoice

    from mrc.loading import load_model

    head = choice_head(model_dir)
    if head is None:
        return load_model(model_dir, AutoModelForMultipleChoice, device)
    model = MeanPooledChoiceModel(load_model(model_dir, AutoModel, device, add_pooling_layer=False))
    model.load_head(head)
    model.to(device=device, dtype=next(model.encoder.parameters()).dtype)
    model.eval()
    return model
