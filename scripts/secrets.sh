# Sourced by run.sh: the secrets of `make run`, kept across runs in $AIRFLOW_HOME/secrets.env, and the simple auth
# manager's passwords file written from them. Both files are owner-only (0600) after every run, whatever their
# mode was before; no password is printed (the admin's is in secrets.env: AIRFLOW_ADMIN_PASSWORD).
SECRETS="$AIRFLOW_HOME/secrets.env"
(
  umask 077
  # One secret set for all Airflow components (they sign and check each other's tokens).
  if [ ! -f "$SECRETS" ]; then
    printf 'export AIRFLOW__API_AUTH__JWT_SECRET=%s\nexport AIRFLOW__API__SECRET_KEY=%s\nexport AIRFLOW_ADMIN_PASSWORD=%s\n' \
      "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" "${AIRFLOW_ADMIN_PASSWORD:-$(openssl rand -hex 12)}" > "$SECRETS"
  fi
  if ! grep -q TWEET_SENTIMENT_BOT_PASSWORD "$SECRETS"; then  # secrets.env of an earlier version lacks it
    printf 'export TWEET_SENTIMENT_BOT_PASSWORD=%s\n' "$(openssl rand -hex 12)" >> "$SECRETS"
  fi
  chmod 600 "$SECRETS"
)
# shellcheck source=/dev/null
source "$SECRETS"
(
  umask 077
  touch "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  chmod 600 "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"  # before the passwords go in
  printf '{"%s": "%s", "tweet-sentiment-bot": "%s"}\n' "${AIRFLOW_ADMIN_USER:-admin}" "$AIRFLOW_ADMIN_PASSWORD" \
    "$TWEET_SENTIMENT_BOT_PASSWORD" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
)
