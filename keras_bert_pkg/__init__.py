"""keras_bert_pkg: BERT (Devlin et al., 2018) as a Keras 3-native package.

Import this package before (or instead of) configuring Keras yourself: it selects the
TensorFlow backend and keeps TensorFlow's start-up logging quiet.
"""

from keras_bert_pkg.backend import configure_backend as _configure_backend

_configure_backend()

from keras_bert_pkg.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402
from keras_bert_pkg.data.glue import GLUE_TASKS, read_glue  # noqa: E402
from keras_bert_pkg.data.length_bucketing import (  # noqa: E402
    bucketed_dataset, predict_by_length, tokenize_to_ragged)
from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data  # noqa: E402
from keras_bert_pkg.data.pretraining_documents import read_documents, split_sentences  # noqa: E402
from keras_bert_pkg.data.pretraining_instances import (  # noqa: E402
    MaskingVocabulary, PretrainingInstance, create_training_instances)
from keras_bert_pkg.data.pretraining_records import (  # noqa: E402
    pretraining_record_dataset, write_instances)
from keras_bert_pkg.data.pretraining_stream import pretraining_stream_dataset  # noqa: E402
from keras_bert_pkg.layers.activations import gelu_approximate, gelu_exact  # noqa: E402
from keras_bert_pkg.layers.causal_attention_mask import CausalAttentionMask  # noqa: E402
from keras_bert_pkg.metrics.glue import glue_metrics  # noqa: E402
from keras_bert_pkg.models.bert_backbone import BertBackbone  # noqa: E402
from keras_bert_pkg.models.bert_classifier import BertClassifier  # noqa: E402
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice  # noqa: E402
from keras_bert_pkg.models.bert_presets import BACKBONE_PRESETS  # noqa: E402
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer  # noqa: E402
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier  # noqa: E402
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor  # noqa: E402
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer  # noqa: E402
from keras_bert_pkg.text.vocabulary import build_wordpiece_vocabulary  # noqa: E402
from keras_bert_pkg.training.resumable_checkpoint import ResumableCheckpoint  # noqa: E402
from keras_bert_pkg.training.resumable_fit import resumable_fit  # noqa: E402
from keras_bert_pkg.training.run_pretraining import run_pretraining  # noqa: E402
from keras_bert_pkg.training.strategies import (  # noqa: E402
    add_strategy_flags, batch_sizes, get_strategy, strategy_from_flags)
from keras_bert_pkg.export.export_model import export  # noqa: E402  (shadows the subpackage name)

__version__ = "0.1.0"
