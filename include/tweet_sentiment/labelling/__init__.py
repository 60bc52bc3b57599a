"""Human labelling: the queue of tweets to label (loads, answers, sends to the inbox), kept in the state database
(tables, queries, the agreement counts, the JSON-file era's migration), the sources tweets are drawn from, and
inter-annotator agreement. Imports ``model`` (suggestions), ``storage`` and the shared vocabulary."""
