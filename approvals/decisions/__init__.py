"""The decision service (#6 item 9): allow or deny one model call. engine.py is the pure,
compiled evaluator; loader.py builds its per-org index from the database; service.py
resolves the credential and answers; api.py is the HTTP face; client.py the gateway's."""
