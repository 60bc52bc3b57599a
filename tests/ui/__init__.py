"""Tests of the Airflow UI plugin: API against a real api-server, and a headless Chromium walk-through."""
