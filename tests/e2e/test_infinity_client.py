"""The pipeline's infinity client against a real server: vectors come back in the order the texts were sent."""

import numpy as np

from tweet_sentiment.model.infinity import InfinityClient

TEXTS = ["a much longer tweet about panic buying at the supermarket, no toilet paper left",
         "short", "prices went up again", "stay home, stay safe", "hand sanitizer sold out everywhere today"]


def _alone(url: str) -> np.ndarray:
    with InfinityClient(url, "all-MiniLM-L6-v2") as client:
        return np.vstack([client.embed([text]) for text in TEXTS])


def test_one_request_keeps_the_texts_order(infinity_url: str) -> None:
    with InfinityClient(infinity_url, "all-MiniLM-L6-v2", batch_size=128) as client:
        together = client.embed(TEXTS)
    np.testing.assert_allclose(together, _alone(infinity_url), atol=1e-4)


def test_several_requests_in_flight_keep_the_texts_order(infinity_url: str) -> None:
    with InfinityClient(infinity_url, "all-MiniLM-L6-v2", batch_size=2, concurrency=2) as client:
        together = client.embed(TEXTS)
    np.testing.assert_allclose(together, _alone(infinity_url), atol=1e-4)
