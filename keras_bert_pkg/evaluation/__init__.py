"""A fine-tuned model scored on a task's dev data: predictions and the task's official
metrics (GLUE, SQuAD, NER), one call each; `training.dev_evaluator.DevEvaluator` runs them
after every epoch."""
