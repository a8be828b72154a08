"""Each task's metric on small cases computed by hand (workbench.metrics), including label-name
mapping, references the model cannot produce, relevant ids no document has, and references that do
not fit."""

from __future__ import annotations

import pytest

from workbench.errors import InputError
from workbench.metrics import label_matcher, parse_entities, relevant_ids, score


def test_classification_accuracy_and_macro_f1_by_hand():
    # gold A A B B, predicted A B B B: accuracy 3/4; F1(A) = 2·1·0.5/1.5 = 2/3, F1(B) = 2·(2/3)·1/(5/3) = 4/5
    s = score("classification", ["a", "B", "b", "B"], ["A", "A", "B", "b"], labels=["A", "B"])
    assert s.values == {"accuracy": 75.0, "macro_f1": round(100 * (2 / 3 + 4 / 5) / 2, 2)} and s.notes == ()
    assert s.headline == ("accuracy", 75.0) and s.higher_is_better


def test_classification_matches_labels_by_id_and_reports_the_ones_the_model_lacks():
    id2label = {0: "NEGATIVE", 1: "POSITIVE"}
    s = score("classification", ["POSITIVE", "NEGATIVE", "NEGATIVE"], ["1", "0", "neutral"],
              labels=list(id2label.values()), id2label=id2label)
    assert s.values["accuracy"] == round(100 * 2 / 3, 2)
    assert s.notes == ("1 reference(s) name labels this model does not have (neutral); they count as wrong.",)
    assert label_matcher(None)("anything") == "anything"  # zero-shot: the references name the candidates


def test_entity_f1_follows_seqeval():
    texts = ["John Smith lives in Paris", "Mary went to Rome"]
    gold = ["PER: John Smith; LOC: Paris", "PER: Mary; LOC: Rome"]
    predicted = [[{"entity_group": "PER", "word": "John Smith"}, {"entity_group": "ORG", "word": "Paris"}],
                 [{"entity_group": "PER", "word": "Mary"}, {"entity_group": "LOC", "word": "Rome"}]]
    s = score("entities", predicted, gold, texts=texts)
    # 4 gold entities, 4 predicted, 3 right (Paris has the wrong type): P = R = F1 = 75
    assert s.values == {"precision": 75.0, "recall": 75.0, "f1": 75.0}
    assert parse_entities('[{"type": "loc", "text": "Rome"}]') == [("LOC", "Rome")]
    with pytest.raises(InputError, match="has no type"):
        parse_entities("John Smith")


def test_squad_exact_match_and_f1():
    s = score("squad", ["Paris", "the city of Rome", ""], ["Paris", "Rome|the Rome", "Berlin"])
    # EM: 1/3; F1: 1, then "city of rome" vs "rome" (articles dropped): P 1/3 R 1 -> 0.5, then 0: mean 0.5
    assert s.values == {"exact_match": round(100 / 3, 2), "f1": 50.0}


def test_word_and_character_error_rates():
    s = score("asr", ["the cat sat", "hello"], ["the cat sat down", "hello"])
    assert s.values == {"wer": round(1 / 5, 4), "cer": round(5 / 21, 4)} and not s.higher_is_better


def test_bleu_chrf_and_rouge():
    same = score("summary", ["the cat sat on the mat"], ["the cat sat on the mat"])
    assert same.values == {"bleu": 100.0, "chrf": 100.0, "rougeL": 100.0}
    half = score("summary", ["the cat sat"], ["the cat sat on the mat"])
    # ROUGE-L: LCS 3, P 3/3, R 3/6 -> F 2/3
    assert half.values["rougeL"] == round(100 * 2 / 3, 2) and 0 < half.values["chrf"] < 100


def test_spearman_of_cosines_with_gold_scores():
    assert score("similarity", [0.9, 0.1, 0.5], [5, 1, 3]).values == {"spearman": 100.0}
    assert score("similarity", [0.1, 0.9, 0.5], [5, 1, 3]).values == {"spearman": -100.0}


def test_references_must_fit_the_outputs():
    with pytest.raises(InputError, match="2 outputs but 1 references"):
        score("asr", ["a", "b"], ["a"])
    with pytest.raises(InputError, match="no references"):
        score("asr", [], [])
    with pytest.raises(KeyError, match="unknown metric"):
        score("map", [1], [1])


def test_retrieval_recall_at_k_and_mrr_by_hand():
    ids = ["a", "b", "c"]
    # query 1 ranks a, c, b (relevant a and c); query 2 ranks b, a, c (relevant c, at a negative cosine);
    # query 3 ranks b, a, c (relevant b, and zz, which no document has: never retrieved)
    s = score("retrieval", [[0.9, 0.1, 0.5], [0.2, 0.8, -0.3], [0.3, 0.6, 0.1]], ["a|c", "c", "b | zz"], ids=ids)
    # recall@1: (1/2 + 0 + 1/2) / 3; @5 and @10 (every document): (1 + 1 + 1/2) / 3; MRR: (1 + 1/3 + 1) / 3
    assert s.values == {"recall@1": round(100 / 3, 2), "recall@5": round(250 / 3, 2), "recall@10": round(250 / 3, 2),
                        "mrr": round(700 / 9, 2)}
    assert s.notes == ("1 relevant id(s) named by the references belong to no document (zz); they count as missed.",)
    assert s.n == 3 and s.headline == ("recall@5", round(250 / 3, 2)) and s.higher_is_better
    # twelve documents ranked d0 first: the relevant d2 and d7 come 3rd and 8th
    many = score("retrieval", [[1 - i / 12 for i in range(12)]], ["d2|d7"], ids=[f"d{i}" for i in range(12)])
    assert many.values == {"recall@1": 0.0, "recall@5": 50.0, "recall@10": 100.0, "mrr": round(100 / 3, 2)}
    assert relevant_ids(" d3 | d7|d3 ") == ["d3", "d7"]
