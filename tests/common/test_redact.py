import pytest

from libs.common.redact import mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/***"),
        ("mailtos://user:app-password@gmail.com?to=am@agency.com", "mailtos://***@gmail.com/***"),
        ("slack://TokenA/TokenB/TokenC/#channel", "slack://***"),
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1/***"),
        ("discord://webhook_id/webhook_token", "discord://***"),
        ("not a url at all", "?://***"),
    ],
)
def test_secrets_never_survive(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    for secret in ("XXXX", "app-password", "TokenB", "webhook_token"):
        assert secret not in mask_url(url)
