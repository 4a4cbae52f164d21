"""HTML views of the approval matrix, split by noun: requests (filing and editing),
matrix (the list, exports, lint report, deny rules), rows (one row's page, moves,
sign-offs, inbox), evidence (a row's evidence), renewal (the renewal review), settings
and decisions (the decision log)."""
