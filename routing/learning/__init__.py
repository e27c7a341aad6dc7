"""Learned routers: quality predictors trained on per-model outcomes, and their stored artifacts.

`families` (pure: numpy and scikit-learn, no Django) fits and runs the predictors; `training` (pure) splits
items by prompt and measures a fitted predictor on the held-out ones; `services`, `selectors` and
`embedding_store` keep artifacts and embeddings in PostgreSQL.
"""
