"""The DAGs' logic, one task module per DAG (``retrain``, ``score``, ``approve``, ``refit``), the sensor's decision
(``sensing``), the run Params (``params``), the Airflow assets (``assets``), the challenger's training, shared
resources, timing, the service login to Airflow's REST API (``api_login``), run notes and the feeds' asset
events (``feed_events``), the housekeeping DAG's maintenance (``housekeeping``), the data root's migration
(``migrate``) and its backup and restore (``backup``). The top of the house: it imports every package below;
none imports it."""
