"""keras_bert_pkg: BERT (Devlin et al., 2018) as a Keras 3-native package.

Import this package before (or instead of) configuring Keras yourself: it selects the
TensorFlow backend and keeps TensorFlow's start-up logging quiet. `import keras_bert_pkg
as kb` gives the public API below; `docs/ARCHITECTURE.md` maps the folders.
"""

from keras_bert_pkg.backend import configure_backend as _configure_backend

_configure_backend()

# Text.
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer  # noqa: E402
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor  # noqa: E402
from keras_bert_pkg.text.wordpiece_vocabulary import build_wordpiece_vocabulary  # noqa: E402
# Layers.
from keras_bert_pkg.layers.activations import gelu_approximate, gelu_exact  # noqa: E402
from keras_bert_pkg.layers.bert_dropout import BertDropout  # noqa: E402
from keras_bert_pkg.layers.bert_encoder_block import BertEncoderBlock  # noqa: E402
from keras_bert_pkg.layers.bert_layer_norm import BertLayerNorm  # noqa: E402
from keras_bert_pkg.layers.causal_attention_mask import CausalAttentionMask  # noqa: E402
# Models: backbone, pre-training, the tasks.
from keras_bert_pkg.models.bert_architectures import BACKBONE_ARCHITECTURES  # noqa: E402
from keras_bert_pkg.models.bert_backbone import BertBackbone  # noqa: E402
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer  # noqa: E402
from keras_bert_pkg.models.bert_task import BertTask  # noqa: E402
from keras_bert_pkg.models.bert_classifier import BertClassifier  # noqa: E402
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler  # noqa: E402
from keras_bert_pkg.models.span_answers import SpanDecoding  # noqa: E402
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier  # noqa: E402
from keras_bert_pkg.models.word_tags import TagDecoding  # noqa: E402
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice  # noqa: E402
from keras_bert_pkg.models.predict_by_length import predict_by_length  # noqa: E402
# Checkpoints.
from keras_bert_pkg.checkpoints.formats import read_checkpoint, save_checkpoint  # noqa: E402
from keras_bert_pkg.checkpoints.registry import list_checkpoints  # noqa: E402
# Data.
from keras_bert_pkg.data.glue import GLUE_TASKS, read_glue  # noqa: E402
from keras_bert_pkg.data.length_bucketing import bucketed_dataset, tokenize_to_ragged  # noqa: E402
from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data  # noqa: E402
from keras_bert_pkg.data.pretraining_records import pretraining_record_dataset  # noqa: E402
from keras_bert_pkg.data.pretraining_stream import pretraining_stream_dataset  # noqa: E402
# Training.
from keras_bert_pkg.distribute.strategies import get_strategy  # noqa: E402
from keras_bert_pkg.training.dev_evaluator import DevEvaluator  # noqa: E402
from keras_bert_pkg.training.optimizers import create_optimizer  # noqa: E402
from keras_bert_pkg.training.precision import set_precision  # noqa: E402
from keras_bert_pkg.training.resumable_checkpoint import ResumableCheckpoint  # noqa: E402
from keras_bert_pkg.training.resumable_fit import resumable_fit  # noqa: E402
from keras_bert_pkg.training.step_loss_logger import StepLossLogger  # noqa: E402
from keras_bert_pkg.training.stop_after_steps import StopAfterSteps  # noqa: E402
# Serving.
from keras_bert_pkg.export.export_model import export_model  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "BertTokenizer", "BertPreprocessor", "build_wordpiece_vocabulary",
    "gelu_approximate", "gelu_exact", "BertDropout", "BertEncoderBlock", "BertLayerNorm", "CausalAttentionMask",
    "BACKBONE_ARCHITECTURES", "BertBackbone", "BertPretrainer", "BertTask", "BertClassifier",
    "BertSpanLabeler", "SpanDecoding", "BertTokenClassifier", "TagDecoding", "BertMultipleChoice", "predict_by_length",
    "read_checkpoint", "save_checkpoint", "list_checkpoints",
    "GLUE_TASKS", "read_glue", "bucketed_dataset", "tokenize_to_ragged", "create_pretraining_data",
    "pretraining_record_dataset", "pretraining_stream_dataset",
    "get_strategy", "DevEvaluator", "create_optimizer", "set_precision", "ResumableCheckpoint",
    "resumable_fit", "StepLossLogger", "StopAfterSteps",
    "export_model",
]
