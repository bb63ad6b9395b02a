"""How good the annotations are: evaluation, agreement, the HTML report, and training on gold."""
