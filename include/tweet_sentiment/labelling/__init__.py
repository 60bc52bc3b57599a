"""Human labelling: the queue of tweets to label (reservations, sends to the inbox), annotators' answers, the
sources tweets are drawn from, and inter-annotator agreement. Imports ``model`` (suggestions), ``storage`` and the
shared vocabulary."""
