"""The tweet-sentiment UI served by the Airflow API server: labelling queue, prediction API, model page."""
