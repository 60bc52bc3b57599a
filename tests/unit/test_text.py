from tweet_sentiment.text import clean_tweet, text_hash


def test_clean_tweet_removes_links_mentions_entities_and_crlf_runs():
    raw = "@MeNyrbie Prices up &amp;amp; shelves empty!\r\r\n\r\r\nSee https://t.co/iFz9FAn2Pa #panicbuying"
    assert clean_tweet(raw) == "Prices up & shelves empty! See #panicbuying"


def test_clean_tweet_fixes_cp1252_mojibake_read_as_latin1():
    # bytes C2 92 (a cp1252 apostrophe inside UTF-8) decoded as latin-1, as in the Kaggle train file
    assert clean_tweet("the region\u00c2\u0092s first case") == "the region's first case"
    assert clean_tweet("it\u00e2\u0080\u0099s fine") == "it's fine"


def test_clean_tweet_keeps_email_like_text_and_case():
    assert clean_tweet("STAY HOME a@b") == "STAY HOME a@b"


def test_clean_tweet_of_only_links_and_mentions_is_empty():
    assert clean_tweet("  @a @b https://t.co/x\r\r\n ") == ""


def test_text_hash_is_stable_and_distinguishes_texts():
    assert text_hash("abc") == text_hash("abc")
    assert text_hash("abc") != text_hash("abd")
    assert len(text_hash("abc")) == 64
