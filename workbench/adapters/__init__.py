"""Adapters for the tasks transformers 5 removed from ``pipeline()``: small classes on the Auto*
model classes that are called like the old pipelines and batch like them (see ``base``).

=========================  ==================================================  ===================
task                       adapter                                             Auto class
=========================  ==================================================  ===================
question-answering         ``question_answering.QuestionAnsweringAdapter``     ForQuestionAnswering
summarization              ``seq2seq.SummarizationAdapter``                    ForSeq2SeqLM
translation                ``seq2seq.TranslationAdapter``                      ForSeq2SeqLM
text2text-generation       ``seq2seq.Text2TextGenerationAdapter``              ForSeq2SeqLM
image-to-text              ``captioning.ImageToTextAdapter``                   BLIP, GIT, ViT-GPT2…
visual-question-answering  ``vqa.VisualQuestionAnsweringAdapter``              ForVisualQA
=========================  ==================================================  ===================

The task registry (``workbench.tasks``) names them as ``"module:Class"``
(``workbench.adapters.seq2seq:SummarizationAdapter``); each module is imported when its task is
first loaded. Importing this package imports ``base``, and so torch.
"""

from workbench.adapters.base import Adapter

__all__ = ["Adapter"]
