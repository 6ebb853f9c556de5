"""Making a model: the dataset, its cached features, the losses and the training loop.
Research tooling, never imported by the product."""
