from tests.ml.ml_fixtures import ml_auth, ml_client, ml_ctx, tiny_model

__all__ = ["ml_auth", "ml_client", "ml_ctx", "tiny_model"]
